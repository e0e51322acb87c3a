#pragma once
// A GGUF v2/v3 model file, memory-mapped and parsed with every offset and size bounds-checked.
// Tensor data is never copied: TensorInfo::data points into the mapping.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/result.hpp"
#include "kernels/common/dtype.hpp"

namespace troupe::gguf {

// A metadata value. Arrays hold values of one element type.
struct Value;
using Array = std::vector<Value>;
struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;
  Storage data;

  bool is_string() const { return std::holds_alternative<std::string>(data); }
  bool is_array() const { return std::holds_alternative<Array>(data); }
  const std::string* as_string() const { return std::get_if<std::string>(&data); }
  const Array* as_array() const { return std::get_if<Array>(&data); }
  // Any integer or bool type, when it fits in int64; nullopt otherwise.
  std::optional<int64_t> as_int() const;
  // Any numeric type converted to double.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the contiguous (row) dimension
  DType type;
  uint64_t offset;                  // from the start of the data section
  std::span<const std::byte> data;  // exactly the tensor's bytes, inside the mapping
  int64_t elements() const;
  int64_t rows() const { return elements() / shape.at(0); }
};

class File {
 public:
  // Maps and parses `path`. Errors name the file and the problem (truncated, bad magic, ...).
  static Result<std::shared_ptr<const File>> open(const std::string& path);
  // Parses an in-memory image (used by tests and the fuzzer); the bytes are copied.
  static Result<std::shared_ptr<const File>> parse(std::span<const std::byte> bytes,
                                                   std::string name = "<memory>");
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  const std::map<std::string, Value, std::less<>>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed look-ups; nullopt when the key is missing or of another type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;

 private:
  File() = default;
  static Result<std::shared_ptr<const File>> parse_mapped(std::shared_ptr<File> file);

  std::string path_;
  uint32_t version_ = 0;
  std::map<std::string, Value, std::less<>> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  // The file's bytes: an mmap (map_base_/map_size_) or an owned copy.
  const std::byte* base_ = nullptr;
  size_t size_ = 0;
  void* map_base_ = nullptr;
  size_t map_size_ = 0;
  std::vector<std::byte> owned_;
};

}  // namespace troupe::gguf
