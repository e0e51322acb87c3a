#include "engine/gguf/gguf_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "engine/gguf/byte_reader.hpp"

namespace troupe::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;
// What a header's counts may claim: the largest vocabularies and merge lists hold a few hundred
// thousand entries, the largest models a few thousand tensors. Vectors reserve at most
// kReserveUpFront ahead and grow with what is actually read.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 24;
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
constexpr uint64_t kReserveUpFront = 4096;
constexpr uint64_t kDefaultAlignment = 32;

// Names of ggml types troupe cannot compute with, for error messages.
std::string ggml_type_name(uint32_t id) {
  if (auto t = dtype_traits(id)) return std::string(t->name);
  static const char* const names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "Q4_2",   "Q4_3",  "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  if (id < std::size(names)) return names[id];
  return "unknown type " + std::to_string(id);
}

std::string supported_types() {
  std::string s;
  for (uint32_t id = 0; id < 64; ++id) {
    if (auto t = dtype_traits(id)) s += (s.empty() ? "" : ", ") + std::string(t->name);
  }
  return s;
}

// Parses one GGUF file image; each failure becomes an Error naming the file and the problem.
class Parser {
 public:
  Parser(const std::string& name, const std::byte* data, size_t size)
      : name_(name), size_(size), in_(data, size) {}

  Error fail(const std::string& what) const {
    return make_error("model file '" + name_ + "': " + what);
  }
  Error truncated(const std::string& what) const {
    return fail("truncated or corrupt: cannot read " + what + " at offset " +
                std::to_string(in_.position()) + " (file is " + std::to_string(size_) + " bytes)");
  }

  Result<Value> read_value(uint32_t type, const std::string& key, int depth) {
    switch (type) {
      case 0:
        return read_scalar<uint8_t>(key);
      case 1:
        return read_scalar<int8_t>(key);
      case 2:
        return read_scalar<uint16_t>(key);
      case 3:
        return read_scalar<int16_t>(key);
      case 4:
        return read_scalar<uint32_t>(key);
      case 5:
        return read_scalar<int32_t>(key);
      case 6:
        return read_scalar<float>(key);
      case 7: {
        auto b = in_.read<uint8_t>();
        if (!b) return truncated("bool value of '" + key + "'");
        if (*b > 1) return fail("metadata '" + key + "' has a bool that is neither 0 nor 1");
        return Value{bool(*b)};
      }
      case 8: {
        auto s = in_.read_string();
        if (!s) return truncated("string value of '" + key + "'");
        return Value{std::move(*s)};
      }
      case 9:
        return read_array(key, depth);
      case 10:
        return read_scalar<uint64_t>(key);
      case 11:
        return read_scalar<int64_t>(key);
      case 12:
        return read_scalar<double>(key);
      default:
        return fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
    }
  }

  template <typename T>
  Result<Value> read_scalar(const std::string& key) {
    auto v = in_.read<T>();
    if (!v) return truncated("value of '" + key + "'");
    return Value{*v};
  }

  Result<Value> read_array(const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) return fail("metadata '" + key + "' nests arrays too deeply");
    auto type = in_.read<uint32_t>();
    auto count = in_.read<uint64_t>();
    if (!type || !count) return truncated("array header of '" + key + "'");
    // Every element takes at least one byte, so a count beyond the bytes left is corrupt; this
    // also bounds the allocation below.
    if (*count > in_.remaining()) {
      return fail("metadata '" + key + "' claims " + std::to_string(*count) +
                  " array elements but only " + std::to_string(in_.remaining()) + " bytes remain");
    }
    // Each element also takes a Value (~40 bytes) here: a count is not trusted for an up-front
    // allocation (a 1 GB file claiming 9e8 elements asked for 36 GB), only bounded.
    if (*count > kMaxArrayElements) {
      return fail("metadata '" + key + "' claims " + std::to_string(*count) +
                  " array elements, more than the " + std::to_string(kMaxArrayElements) +
                  " a model's metadata holds");
    }
    Array items;
    items.reserve(static_cast<size_t>(std::min<uint64_t>(*count, kReserveUpFront)));
    for (uint64_t i = 0; i < *count; ++i) {
      auto item = read_value(*type, key, depth + 1);
      if (!item) return item.error();
      items.push_back(std::move(*item));
    }
    return Value{std::move(items)};
  }

  Status parse(uint32_t& version, std::map<std::string, Value, std::less<>>& metadata,
               std::vector<TensorInfo>& tensors, const std::byte* base) {
    auto magic = in_.read<uint32_t>();
    if (!magic) return truncated("the magic number");
    if (*magic != 0x46554747u) return fail("not a GGUF file (bad magic number)");
    auto v = in_.read<uint32_t>();
    if (!v) return truncated("the version");
    if (*v != 2 && *v != 3) {
      return fail("GGUF version " + std::to_string(*v) + " is not supported (supported: 2, 3)");
    }
    version = *v;
    auto tensor_count = in_.read<uint64_t>();
    auto kv_count = in_.read<uint64_t>();
    if (!tensor_count || !kv_count) return truncated("the header counts");
    if (*kv_count > in_.remaining() || *tensor_count > in_.remaining()) {
      return fail("header counts (" + std::to_string(*tensor_count) + " tensors, " +
                  std::to_string(*kv_count) + " metadata keys) exceed the file size");
    }

    for (uint64_t i = 0; i < *kv_count; ++i) {
      auto key = in_.read_string();
      if (!key) return truncated("metadata key #" + std::to_string(i));
      auto type = in_.read<uint32_t>();
      if (!type) return truncated("type of metadata '" + *key + "'");
      auto value = read_value(*type, *key, 0);
      if (!value) return value.error();
      if (!metadata.emplace(*key, std::move(*value)).second) {
        return fail("metadata key '" + *key + "' appears twice");
      }
    }

    uint64_t alignment = kDefaultAlignment;
    if (auto it = metadata.find("general.alignment"); it != metadata.end()) {
      auto a = it->second.as_int();
      if (!a || *a <= 0 || (*a & (*a - 1)) != 0) {
        return fail("general.alignment must be a power of two");
      }
      alignment = static_cast<uint64_t>(*a);
    }

    if (*tensor_count > kMaxTensors) {
      return fail("the header claims " + std::to_string(*tensor_count) + " tensors, more than " +
                  std::to_string(kMaxTensors));
    }
    tensors.reserve(static_cast<size_t>(std::min<uint64_t>(*tensor_count, kReserveUpFront)));
    for (uint64_t i = 0; i < *tensor_count; ++i) {
      auto t = read_tensor_info(i);
      if (!t) return t.error();
      tensors.push_back(std::move(*t));
    }

    const uint64_t data_start = (in_.position() + alignment - 1) / alignment * alignment;
    if (data_start > size_ && *tensor_count > 0) return truncated("the tensor data section");
    const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
    for (auto& t : tensors) {
      if (t.offset % alignment != 0) {
        return fail("tensor '" + t.name + "' data offset is not aligned to " +
                    std::to_string(alignment));
      }
      const uint64_t bytes =
          static_cast<uint64_t>(row_bytes(t.type, t.shape[0])) * static_cast<uint64_t>(t.rows());
      if (t.offset > data_size || bytes > data_size - t.offset) {
        return fail("tensor '" + t.name + "' data (" + std::to_string(bytes) + " bytes at " +
                    std::to_string(t.offset) + ") runs past the end of the file: truncated?");
      }
      t.data = std::span<const std::byte>(base + data_start + t.offset, bytes);
    }
    return Ok{};
  }

  Result<TensorInfo> read_tensor_info(uint64_t index) {
    const std::string which = "tensor info #" + std::to_string(index);
    auto name = in_.read_string();
    if (!name) return truncated(which);
    auto n_dims = in_.read<uint32_t>();
    if (!n_dims) return truncated(which);
    if (*n_dims == 0 || *n_dims > kMaxDims) {
      return fail("tensor '" + *name + "' has " + std::to_string(*n_dims) +
                  " dimensions (1 to 4 supported)");
    }
    TensorInfo t;
    t.name = std::move(*name);
    int64_t elements = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = in_.read<int64_t>();
      if (!dim) return truncated("shape of tensor '" + t.name + "'");
      if (*dim <= 0 || *dim > (int64_t{1} << 40) || elements > (int64_t{1} << 40) / *dim) {
        return fail("tensor '" + t.name + "' has an invalid shape");
      }
      elements *= *dim;
      t.shape.push_back(*dim);
    }
    auto type = in_.read<uint32_t>();
    auto offset = in_.read<uint64_t>();
    if (!type || !offset) return truncated("type and offset of tensor '" + t.name + "'");
    auto traits = dtype_traits(*type);
    if (!traits) {
      return fail("tensor '" + t.name + "' has type " + ggml_type_name(*type) +
                  ", which troupe does not support (supported: " + supported_types() + ")");
    }
    if (t.shape[0] % traits->block_elements != 0) {
      return fail("tensor '" + t.name + "' row length " + std::to_string(t.shape[0]) +
                  " is not a multiple of the " + std::string(traits->name) + " block size");
    }
    t.type = static_cast<DType>(*type);
    t.offset = *offset;
    return t;
  }

 private:
  std::string name_;
  size_t size_;
  ByteReader in_;
};

}  // namespace

std::optional<int64_t> Value::as_int() const {
  return std::visit(
      [](const auto& v) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return static_cast<int64_t>(v);
        } else if constexpr (std::is_integral_v<T>) {
          return static_cast<int64_t>(v);
        } else {
          return std::nullopt;
        }
      },
      data);
}

std::optional<double> Value::as_float() const {
  return std::visit(
      [](const auto& v) -> std::optional<double> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<double>(v);
        } else {
          return std::nullopt;
        }
      },
      data);
}

std::optional<bool> Value::as_bool() const {
  if (auto b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

int64_t TensorInfo::elements() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

File::~File() {
  if (map_base_) munmap(map_base_, map_size_);
}

Result<std::shared_ptr<const File>> File::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error("cannot open model file '" + path + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("model file '" + path + "' is not a regular file");
  }
  std::shared_ptr<File> file(new File());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return make_error("cannot map model file '" + path + "': " + std::strerror(err));
    }
    file->map_base_ = p;
    file->map_size_ = file->size_;
    file->base_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
  return parse_mapped(std::move(file));
}

Result<std::shared_ptr<const File>> File::parse(std::span<const std::byte> bytes,
                                                std::string name) {
  std::shared_ptr<File> file(new File());
  file->path_ = std::move(name);
  file->owned_.assign(bytes.begin(), bytes.end());
  file->base_ = file->owned_.data();
  file->size_ = file->owned_.size();
  return parse_mapped(std::move(file));
}

Result<std::shared_ptr<const File>> File::parse_mapped(std::shared_ptr<File> file) {
  Parser parser(file->path_, file->base_, file->size_);
  auto status = parser.parse(file->version_, file->metadata_, file->tensors_, file->base_);
  if (!status) return status.error();
  for (size_t i = 0; i < file->tensors_.size(); ++i) {
    if (!file->tensor_index_.emplace(file->tensors_[i].name, i).second) {
      return parser.fail("tensor '" + file->tensors_[i].name + "' appears twice");
    }
  }
  return std::shared_ptr<const File>(std::move(file));
}

const Value* File::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->as_string()) return std::nullopt;
  return *v->as_string();
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_float() : std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

}  // namespace troupe::gguf
