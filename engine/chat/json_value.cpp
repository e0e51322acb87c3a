#include "engine/chat/json_value.hpp"

#include <charconv>
#include <cmath>

#include "engine/tokenizer/unicode.hpp"

namespace troupe::chat {
namespace {

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  Result<Value> document() {
    auto v = value(0);
    if (!v) return v;
    skip_space();
    if (at_ < text_.size()) return fail("text after the JSON value");
    return v;
  }

 private:
  Error fail(const std::string& what) const {
    return make_error("JSON at byte " + std::to_string(at_) + ": " + what);
  }
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  bool take(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  Result<Value> value(int depth) {
    if (depth > kMaxJsonValueDepth) return fail("nested too deep");
    skip_space();
    if (at_ >= text_.size()) return fail("a value is missing");
    const char c = text_[at_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      auto s = string();
      if (!s) return s.error();
      return Value(std::move(*s));
    }
    if (take("true")) return Value(true);
    if (take("false")) return Value(false);
    if (take("null")) return Value::none();
    return number();
  }

  Result<Value> object(int depth) {
    ++at_;  // '{'
    ObjectEntries entries;
    skip_space();
    if (take("}")) return Value::object(std::move(entries));
    while (true) {
      skip_space();
      if (at_ >= text_.size() || text_[at_] != '"') return fail("an object key must be a string");
      auto key = string();
      if (!key) return key.error();
      skip_space();
      if (!take(":")) return fail("':' expected after an object key");
      auto item = value(depth + 1);
      if (!item) return item;
      // Python keeps a repeated key's last value, at its first place.
      bool replaced = false;
      for (auto& [k, v] : entries) {
        if (k == *key) {
          v = std::move(*item);
          replaced = true;
        }
      }
      if (!replaced) entries.emplace_back(std::move(*key), std::move(*item));
      skip_space();
      if (take("}")) return Value::object(std::move(entries));
      if (!take(",")) return fail("',' or '}' expected in an object");
    }
  }

  Result<Value> array(int depth) {
    ++at_;  // '['
    std::vector<Value> items;
    skip_space();
    if (take("]")) return Value::array(std::move(items));
    while (true) {
      auto item = value(depth + 1);
      if (!item) return item;
      items.push_back(std::move(*item));
      skip_space();
      if (take("]")) return Value::array(std::move(items));
      if (!take(",")) return fail("',' or ']' expected in an array");
    }
  }

  Result<uint32_t> hex4() {
    if (at_ + 4 > text_.size()) return fail("\\u needs four hexadecimal digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return fail("\\u needs four hexadecimal digits");
      }
    }
    return v;
  }

  Result<std::string> string() {
    ++at_;  // '"'
    std::string out;
    while (true) {
      if (at_ >= text_.size()) return fail("a string is not closed");
      const char c = text_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return fail("a control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) return fail("a string is not closed");
      switch (const char e = text_[at_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto unit = hex4();
          if (!unit) return unit.error();
          uint32_t code = *unit;
          // A surrogate pair is one code point; a lone surrogate is kept, as Python keeps it,
          // and written as the replacement character (it has no UTF-8 form).
          if (code >= 0xD800 && code < 0xDC00 && text_.substr(at_, 2) == "\\u") {
            const size_t back = at_;
            at_ += 2;
            auto low = hex4();
            if (!low) return low.error();
            if (*low >= 0xDC00 && *low < 0xE000) {
              code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
            } else {
              at_ = back;
            }
          }
          if (code >= 0xD800 && code < 0xE000) code = 0xFFFD;
          unicode::append_utf8(out, code);
          break;
        }
        default:
          (void)e;
          return fail("an unknown escape in a string");
      }
    }
  }

  Result<Value> number() {
    const size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    const size_t digits = at_;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
    if (at_ == digits) return fail("a value is expected");
    if (text_[digits] == '0' && at_ - digits > 1) return fail("a number has a leading zero");
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      integral = false;
      const size_t fraction = ++at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
      if (at_ == fraction) return fail("a number's fraction has no digits");
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      integral = false;
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      const size_t exponent = at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
      if (at_ == exponent) return fail("a number's exponent has no digits");
    }
    const std::string_view literal = text_.substr(start, at_ - start);
    if (integral) {
      int64_t i = 0;
      const auto r = std::from_chars(literal.data(), literal.data() + literal.size(), i);
      if (r.ec == std::errc() && r.ptr == literal.data() + literal.size()) return Value(i);
      // Beyond int64: Python would keep a big int; a float is the nearest this can hold.
    }
    double d = 0;
    const auto r = std::from_chars(literal.data(), literal.data() + literal.size(), d);
    if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range) {
      return fail("a number is not readable");
    }
    if (r.ec == std::errc::result_out_of_range) d = literal[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    return Value(d);
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

Result<Value> parse_json_value(std::string_view text) {
  return JsonReader(text).document();
}

}  // namespace troupe::chat
