#pragma once
// Bounds-checked little-endian reads over a byte range. Every read checks what is left first,
// so a truncated or corrupt file can never make the parser read past the end.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace troupe::gguf {

class ByteReader {
 public:
  ByteReader(const std::byte* data, size_t size) : data_(data), size_(size) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  std::optional<T> read() {
    if (remaining() < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A GGUF string: uint64 length, then that many bytes (not NUL-terminated).
  std::optional<std::string> read_string() {
    auto length = read<uint64_t>();
    if (!length || *length > remaining()) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(*length));
    pos_ += static_cast<size_t>(*length);
    return s;
  }

  bool skip_to(size_t position) {
    if (position > size_) return false;
    pos_ = position;
    return true;
  }

 private:
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace troupe::gguf
