#include "engine/chat/py_format.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "engine/chat/unicode_text.hpp"
#include "engine/chat/value.hpp"

namespace troupe::chat {

std::string format_py_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out the way Python's repr does:
  // fixed notation for exponents in [-4, 16), scientific otherwise.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  const int ndigits = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else if (exponent + 1 >= ndigits) {
      out += digits;
      out.append(static_cast<size_t>(exponent + 1 - ndigits), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent + 1));
      out.push_back('.');
      out += digits.substr(static_cast<size_t>(exponent + 1));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (ndigits > 1) {
    out.push_back('.');
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

namespace {

// Code points CPython's str.isprintable() rejects, approximated by the common ranges.
bool is_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp <= 0xA0) return false;
  if (cp == 0xAD || cp == 0x1680 || cp == 0x180E || cp == 0x3000 || cp == 0xFEFF) return false;
  if (cp >= 0x2000 && cp <= 0x200F) return false;
  if (cp >= 0x2028 && cp <= 0x202F) return false;
  if (cp >= 0x205F && cp <= 0x206F) return false;
  if (cp >= 0xD800 && cp <= 0xF8FF) return false;  // surrogates and private use
  if (cp >= 0xFFF0 && cp <= 0xFFFB) return false;
  if (cp == 0xFFFE || cp == 0xFFFF || cp > 0x10FFFF) return false;
  if (cp >= 0xF0000) return false;  // supplementary private use
  return true;
}

}  // namespace

void append_py_escape(std::string& out, char32_t cp) {
  char buf[16];
  if (cp <= 0xFF) {
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
  } else if (cp <= 0xFFFF) {
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
  }
  out += buf;
}

std::string format_py_repr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back(quote);
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = decode_lenient(text, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_printable(cp)) {
      out.append(text.substr(start, pos - start));
    } else {
      append_py_escape(out, cp);
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

bool parse_py_int(std::string_view text, int base, int64_t& out) {
  text = py_strip(text, true, true);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  bool prefixed = false;
  if (text.size() >= 2 && text[0] == '0') {
    const char p = lower_ascii(text[1]);
    const int prefix_base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      text.remove_prefix(2);
      prefixed = true;
    }
  }
  if (base == 0) {
    base = 10;
    // Base 0 rejects leading zeros on non-zero decimals ("007").
    if (text.size() > 1 && text[0] == '0') {
      for (char c : text)
        if (c != '0' && c != '_') return false;
    }
  }
  if (base < 2 || base > 36 || text.empty()) return false;
  uint64_t magnitude = 0;
  bool any_digit = false;
  bool last_underscore = !prefixed;  // '_' may follow a prefix but never lead a number
  for (char c : text) {
    if (c == '_') {
      if (last_underscore) return false;
      last_underscore = true;
      continue;
    }
    const int d = digit_value(c);
    if (d >= base) return false;
    if (magnitude > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                        static_cast<uint64_t>(base))
      return false;
    magnitude = magnitude * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    any_digit = true;
    last_underscore = false;
  }
  if (!any_digit || last_underscore) return false;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (magnitude > limit) return false;
  out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

bool parse_py_float(std::string_view text, double& out) {
  text = py_strip(text, true, true);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  std::string lowered;
  for (char c : text) lowered.push_back(lower_ascii(c));
  if (lowered == "inf" || lowered == "infinity") {
    out = negative ? -std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::infinity();
    return true;
  }
  if (lowered == "nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // digits [. digits] [e [sign] digits], '_' only between digits.
  std::string clean;
  size_t i = 0;
  const auto digits = [&](bool required) {
    bool any = false;
    bool prev_digit = false;
    while (i < lowered.size()) {
      const char c = lowered[i];
      if (c >= '0' && c <= '9') {
        clean.push_back(c);
        any = prev_digit = true;
      } else if (c == '_' && prev_digit && i + 1 < lowered.size() && lowered[i + 1] >= '0' &&
                 lowered[i + 1] <= '9') {
        prev_digit = false;
      } else {
        break;
      }
      ++i;
    }
    return any || !required;
  };
  const bool int_part = digits(false) && !clean.empty();
  bool frac_part = false;
  if (i < lowered.size() && lowered[i] == '.') {
    clean.push_back('.');
    ++i;
    const size_t before = clean.size();
    digits(false);
    frac_part = clean.size() > before;
  }
  if (!int_part && !frac_part) return false;
  if (i < lowered.size() && lowered[i] == 'e') {
    clean.push_back('e');
    ++i;
    if (i < lowered.size() && (lowered[i] == '+' || lowered[i] == '-'))
      clean.push_back(lowered[i++]);
    const size_t before = clean.size();
    digits(false);
    if (clean.size() == before) return false;
  }
  if (i != lowered.size()) return false;
  double value = 0;
  const auto res = std::from_chars(clean.data(), clean.data() + clean.size(), value);
  if (res.ec == std::errc::result_out_of_range) {
    // from_chars reports overflow/underflow; Python gives inf or 0.
    value = clean.find('e') != std::string::npos && clean.find("e-") != std::string::npos
                ? 0.0
                : std::numeric_limits<double>::infinity();
  } else if (res.ec != std::errc()) {
    return false;
  }
  out = negative ? -value : value;
  return true;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

struct PercentSpec {
  std::string flags;
  int width = -1;
  int precision = -1;
  char conversion = 's';
};

std::string pad(std::string body, const PercentSpec& spec, bool numeric) {
  const size_t length = count_code_points(body);
  if (spec.width < 0 || length >= static_cast<size_t>(spec.width)) return body;
  const size_t fill = static_cast<size_t>(spec.width) - length;
  if (spec.flags.find('-') != std::string::npos) return body + std::string(fill, ' ');
  if (numeric && spec.flags.find('0') != std::string::npos) {
    const size_t sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ');
    return body.substr(0, sign) + std::string(fill, '0') + body.substr(sign);
  }
  return std::string(fill, ' ') + body;
}

Result<std::string> convert_percent(const PercentSpec& spec, const Value& arg) {
  const char c = spec.conversion;
  if (c == 's' || c == 'r' || c == 'a') {
    std::string text = c == 's' ? to_py_str(arg) : to_py_repr(arg);
    if (spec.precision >= 0) {
      auto chars = split_code_points(text);
      if (chars.size() > static_cast<size_t>(spec.precision)) {
        std::string cut;
        for (int i = 0; i < spec.precision; ++i) cut += chars[static_cast<size_t>(i)];
        text = cut;
      }
    }
    return pad(std::move(text), spec, false);
  }
  if (arg.is_undefined()) return make_error(arg.undefined_message());  // int(Undefined) raises
  if (c == 'c') {
    if (arg.is_string() && count_code_points(arg.as_string()) == 1)
      return pad(arg.as_string(), spec, false);
    if (arg.is_int() || arg.is_bool()) {
      std::string out;
      append_utf8(out, static_cast<char32_t>(arg.as_int()));
      return pad(out, spec, false);
    }
    return make_error("%c requires int or char");
  }
  if (!arg.is_number())
    return make_error(std::string("%") + c + " format: a real number is required, not " +
                      py_type_name(arg));
  std::string fmt = "%";
  for (char f : spec.flags)
    if (f != '-' && f != '0') fmt.push_back(f);
  if (spec.precision >= 0) fmt += "." + std::to_string(spec.precision);
  char buf[512];
  if (c == 'd' || c == 'i' || c == 'u' || c == 'x' || c == 'X' || c == 'o') {
    if (!arg.is_int() && !arg.is_bool() && c != 'd' && c != 'i' && c != 'u')
      return make_error(std::string("%") + c + " format: an integer is required, not float");
    const double f = arg.as_float();
    if (arg.is_float() && (std::isnan(f) || std::isinf(f)))
      return make_error("cannot convert float to integer");
    const long long v = arg.is_float() ? static_cast<long long>(f) : arg.as_int();
    fmt += (c == 'x' || c == 'X' || c == 'o') ? std::string("ll") + c : std::string("lld");
    std::snprintf(buf, sizeof buf, fmt.c_str(), v);
    return pad(buf, spec, true);
  }
  if (spec.precision > 100) return make_error("precision too big");
  fmt.push_back(c);
  std::snprintf(buf, sizeof buf, fmt.c_str(), arg.as_float());
  return pad(buf, spec, true);
}

}  // namespace

Result<std::string> py_percent_format(std::string_view format, const Value& args,
                                      size_t max_bytes) {
  std::vector<Value> positional;
  const bool mapping = args.is_object() && !args.is_namespace();
  // CPython skips the "not all arguments converted" check for anything with __getitem__
  // (PyMapping_Check): dicts, lists and jinja2's Undefined.
  const bool mapping_like = mapping || (args.is_array() && !args.is_tuple()) || args.is_undefined();
  if (args.is_tuple())
    positional = args.items();
  else
    positional.push_back(args);
  size_t next_arg = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (out.size() > max_bytes) return out;
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) return make_error("incomplete format");
    if (format[i] == '%') {
      out.push_back('%');
      continue;
    }
    const Value* arg = nullptr;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string_view::npos) return make_error("incomplete format key");
      if (args.is_undefined()) return make_error(args.undefined_message());
      if (!mapping) return make_error("format requires a mapping");
      const Value* found = args.find(format.substr(i + 1, close - i - 1));
      if (found == nullptr) return make_error(format_py_repr(format.substr(i + 1, close - i - 1)));
      arg = found;
      used_mapping = true;
      i = close + 1;
    }
    PercentSpec spec;
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos)
      spec.flags.push_back(format[i++]);
    const auto read_number = [&](int& target) {
      if (i < format.size() && format[i] == '*') return false;
      target = 0;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9' && target < 10000)
        target = target * 10 + (format[i++] - '0');
      return true;
    };
    if (i < format.size() && format[i] >= '0' && format[i] <= '9') read_number(spec.width);
    if (i < format.size() && format[i] == '.') {
      ++i;
      if (!read_number(spec.precision)) return make_error("* width is not supported");
    }
    if (i < format.size() && format[i] == '*') return make_error("* width is not supported");
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) return make_error("incomplete format");
    spec.conversion = format[i];
    if (std::string_view("sradiuxXofFeEgGc").find(spec.conversion) == std::string_view::npos) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "unsupported format character '%c' (0x%x) at index %zu",
                    spec.conversion,
                    static_cast<unsigned>(static_cast<unsigned char>(spec.conversion)), i);
      return make_error(buf);
    }
    if (arg == nullptr) {
      if (next_arg >= positional.size())
        return make_error("not enough arguments for format string");
      arg = &positional[next_arg++];
    }
    auto piece = convert_percent(spec, *arg);
    if (!piece.ok()) return piece;
    out += piece.value();
  }
  if (!used_mapping && !mapping_like && next_arg < positional.size())
    return make_error("not all arguments converted during string formatting");
  return out;
}

}  // namespace troupe::chat
