#include "engine/chat/string_literal.hpp"

#include <cstdio>

#include "engine/chat/py_format.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> decode_string_literal(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    if (raw[i] != '\\' || i + 1 >= raw.size()) {
      out.push_back(raw[i++]);
      continue;
    }
    const char d = raw[i + 1];
    if (static_cast<unsigned char>(d) >= 0x80) {
      // jinja2 first turns non-ASCII into \xNN / \uNNNN escapes, so a backslash before it
      // escapes the escape: the result is a literal backslash followed by that spelling.
      size_t next = i + 1;
      const char32_t cp = decode_lenient(raw, next);
      append_py_escape(out, cp);
      i = next;
      continue;
    }
    i += 2;
    switch (d) {
      case '\n':
        break;  // line continuation
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t width = d == 'x' ? 2 : d == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < width; ++k) {
          const int h = i + k < raw.size() ? hex_value(raw[i + k]) : -1;
          if (h < 0) {
            return make_error(d == 'x'   ? "truncated \\xXX escape"
                              : d == 'u' ? "truncated \\uXXXX escape"
                                         : "truncated \\UXXXXXXXX escape");
          }
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF) return make_error("illegal Unicode character");
        append_utf8(out, cp);
        i += width;
        break;
      }
      case 'N':
        return make_error("\\N{...} escapes are not supported");
      default:
        if (d >= '0' && d <= '7') {
          uint32_t cp = static_cast<uint32_t>(d - '0');
          for (int k = 0; k < 2 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7'; ++k)
            cp = cp * 8 + static_cast<uint32_t>(raw[i++] - '0');
          append_utf8(out, cp);
        } else {
          out.push_back('\\');  // unknown escapes stay as written
          out.push_back(d);
        }
    }
  }
  return out;
}

}  // namespace troupe::chat
