#include "engine/chat/lexer.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include "engine/chat/py_format.hpp"
#include "engine/chat/string_literal.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

constexpr size_t kMaxBracketDepth = 256;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) {
    // Newlines normalize to \n and one trailing newline is dropped (keep_trailing_newline=False).
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        src_.push_back('\n');
      } else {
        src_.push_back(source[i]);
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  Result<std::vector<Token>> run() {
    while (pos_ < src_.size()) {
      Status step = lex_root();
      if (!step.ok()) return step.error();
    }
    push(TokenType::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  SourcePos pos_at(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    return SourcePos{static_cast<uint32_t>(line),
                     static_cast<uint32_t>(offset - line_starts_[line - 1] + 1)};
  }

  Error fail(size_t offset, std::string_view message) const {
    return syntax_error(pos_at(offset), message);
  }

  Token& push(TokenType type, std::string text, size_t offset) {
    Token& t = tokens_.emplace_back();
    t.type = type;
    t.text = std::move(text);
    t.pos = pos_at(offset);
    return t;
  }

  bool starts_with(size_t at, std::string_view s) const {
    return src_.compare(at, s.size(), s) == 0;
  }

  size_t skip_spaces(size_t at) const {
    while (size_t n = py_space_length(src_, at)) at += n;
    return at;
  }

  // Emits text before a tag after applying '-' (strip all) or lstrip_blocks (strip the
  // indentation of a line holding only the tag). Variables ({{) are never lstripped.
  void emit_text(size_t begin, size_t end, char sign, bool is_variable) {
    std::string_view text(src_.data() + begin, end - begin);
    if (sign == '-') {
      text = py_strip(text, false, true);
    } else if (sign != '+' && !is_variable) {
      const size_t newline = text.rfind('\n');
      const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
      if (line_start > 0 || line_starting_) {
        const std::string_view tail = text.substr(line_start);
        if (!tail.empty() && py_strip(tail, true, true).empty()) text = text.substr(0, line_start);
      }
    }
    if (!text.empty()) push(TokenType::kData, std::string(text), begin);
  }

  // Where a block end ("%}" with its modifiers) starting at `at` finishes, or npos.
  size_t match_block_end(size_t at) const {
    if (starts_with(at, "+%}")) return at + 3;
    if (starts_with(at, "-%}")) return skip_spaces(at + 3);
    if (starts_with(at, "%}")) return at + 2 + (starts_with(at + 2, "\n") ? 1 : 0);
    return std::string::npos;
  }

  // {% raw %} opener at `at`; returns its end or npos.
  size_t match_raw_begin(size_t at) const {
    size_t p = at + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skip_spaces(p);
    if (!starts_with(p, "raw")) return std::string::npos;
    p = skip_spaces(p + 3);
    if (starts_with(p, "-%}")) return skip_spaces(p + 3);
    if (starts_with(p, "%}")) return p + 2;
    return std::string::npos;
  }

  Status lex_root() {
    size_t tag = pos_;
    while (true) {
      tag = src_.find('{', tag);
      if (tag == std::string::npos || tag + 1 >= src_.size()) {
        push(TokenType::kData, src_.substr(pos_), pos_);
        pos_ = src_.size();
        return Ok{};
      }
      const char kind = src_[tag + 1];
      if (kind == '{' || kind == '%' || kind == '#') break;
      ++tag;
    }
    const char kind = src_[tag + 1];
    const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')
                          ? src_[tag + 2]
                          : '\0';
    emit_text(pos_, tag, sign, kind == '{');
    const size_t body = tag + 2 + (sign ? 1 : 0);
    if (kind == '#') return lex_comment(tag, body);
    if (kind == '%') {
      const size_t raw_end = match_raw_begin(tag);
      if (raw_end != std::string::npos) return lex_raw(tag, raw_end);
    }
    const bool block = kind == '%';
    push(block ? TokenType::kBlockBegin : TokenType::kVariableBegin, block ? "{%" : "{{", tag);
    pos_ = body;
    return lex_tag(block);
  }

  Status lex_comment(size_t tag, size_t body) {
    const size_t close = src_.find("#}", body);
    if (close == std::string::npos) return fail(tag, "Missing end of comment tag");
    const char sign = close > body ? src_[close - 1] : '\0';
    size_t end = close + 2;
    if (sign == '-')
      end = skip_spaces(end);
    else if (sign != '+' && starts_with(end, "\n"))
      ++end;
    finish_match(end);
    return Ok{};
  }

  Status lex_raw(size_t tag, size_t raw_end) {
    line_starting_ = src_[raw_end - 1] == '\n';
    for (size_t at = src_.find("{%", raw_end); at != std::string::npos;
         at = src_.find("{%", at + 1)) {
      size_t p = at + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : '\0';
      if (sign) ++p;
      p = skip_spaces(p);
      if (!starts_with(p, "endraw")) continue;
      const size_t end = match_block_end(skip_spaces(p + 6));
      if (end == std::string::npos) continue;
      emit_text(raw_end, at, sign, false);
      finish_match(end);
      return Ok{};
    }
    return fail(tag, "Missing end of raw directive");
  }

  void finish_match(size_t end) {
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  // Tokens inside {{ }} or {% %} up to the closing delimiter (or end of input, which the
  // parser reports).
  Status lex_tag(bool block) {
    while (pos_ < src_.size()) {
      if (brackets_.empty()) {
        size_t end = std::string::npos;
        if (block)
          end = match_block_end(pos_);
        else if (starts_with(pos_, "-}}"))
          end = skip_spaces(pos_ + 3);
        else if (starts_with(pos_, "}}"))
          end = pos_ + 2;
        if (end != std::string::npos) {
          push(block ? TokenType::kBlockEnd : TokenType::kVariableEnd, block ? "%}" : "}}", pos_);
          finish_match(end);
          return Ok{};
        }
      }
      if (size_t n = py_space_length(src_, pos_)) {
        pos_ += n;
        continue;
      }
      Status s = lex_token();
      if (!s.ok()) return s;
    }
    line_starting_ = false;
    return Ok{};
  }

  // (\d+_)*\d+ starting at `at`; returns its end or npos.
  size_t match_digits(size_t at) const {
    if (at >= src_.size() || !is_digit(src_[at])) return std::string::npos;
    size_t p = at;
    while (p < src_.size()) {
      if (is_digit(src_[p])) {
        ++p;
      } else if (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])) {
        ++p;
      } else {
        break;
      }
    }
    return p;
  }

  size_t match_float(size_t at) const {
    if (at > 0 && src_[at - 1] == '.') return std::string::npos;
    const size_t int_end = match_digits(at);
    if (int_end == std::string::npos) return std::string::npos;
    size_t frac_end = std::string::npos;
    if (int_end < src_.size() && src_[int_end] == '.') frac_end = match_digits(int_end + 1);
    const size_t exp_at = frac_end != std::string::npos ? frac_end : int_end;
    if (exp_at < src_.size() && (src_[exp_at] == 'e' || src_[exp_at] == 'E')) {
      size_t p = exp_at + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      const size_t exp_end = match_digits(p);
      if (exp_end != std::string::npos) return exp_end;
    }
    return frac_end;
  }

  // Returns the end of an integer literal at `at` and its base, or npos.
  size_t match_integer(size_t at, int& base) const {
    const char c = src_[at];
    if (c == '0' && at + 1 < src_.size()) {
      const char p = static_cast<char>(src_[at + 1] | 0x20);
      base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 0;
      if (base != 0) {
        size_t q = at + 2;
        size_t end = std::string::npos;
        while (true) {
          size_t r = q;
          if (r < src_.size() && src_[r] == '_') ++r;
          if (r >= src_.size()) break;
          const int h = hex_value(src_[r]);
          if (h < 0 || h >= base) break;
          q = end = r + 1;
        }
        if (end != std::string::npos) return end;
      }
    }
    base = 10;
    if (c >= '1' && c <= '9') return match_digits(at);
    if (c == '0') {
      size_t q = at + 1;
      while (true) {
        size_t r = q;
        if (r < src_.size() && src_[r] == '_') ++r;
        if (r < src_.size() && src_[r] == '0')
          q = r + 1;
        else
          break;
      }
      return q;
    }
    return std::string::npos;
  }

  bool is_name_char(size_t at, bool first, size_t& next) const {
    const unsigned char c = static_cast<unsigned char>(src_[at]);
    if (c < 0x80) {
      next = at + 1;
      return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (!first && c >= '0' && c <= '9');
    }
    next = at;
    return !is_py_space(decode_lenient(src_, next));  // non-ASCII letters, approximately
  }

  Status lex_token() {
    const size_t start = pos_;
    const char c = src_[start];
    if (size_t end = match_float(start); end != std::string::npos) {
      std::string digits;
      for (size_t i = start; i < end; ++i)
        if (src_[i] != '_') digits.push_back(src_[i]);
      double value = 0;
      if (!parse_py_float(digits, value)) return fail(start, "invalid float literal");
      push(TokenType::kFloat, digits, start).float_value = value;
      pos_ = end;
      return Ok{};
    }
    int base = 10;
    if (size_t end = match_integer(start, base); end != std::string::npos) {
      std::string digits;
      for (size_t i = start + (base == 10 ? 0 : 2); i < end; ++i)
        if (src_[i] != '_') digits.push_back(src_[i]);
      uint64_t value = 0;
      const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
      if (res.ec != std::errc() || value > static_cast<uint64_t>(INT64_MAX))
        return fail(start, "integer literal is too large (at most 64-bit integers are supported)");
      push(TokenType::kInteger, src_.substr(start, end - start), start).int_value =
          static_cast<int64_t>(value);
      pos_ = end;
      return Ok{};
    }
    size_t next = start;
    if (is_name_char(start, true, next)) {
      size_t end = next;
      while (end < src_.size() && is_name_char(end, false, next)) end = next;
      push(TokenType::kName, src_.substr(start, end - start), start);
      pos_ = end;
      return Ok{};
    }
    if (c == '\'' || c == '"') {
      size_t p = start + 1;
      while (p < src_.size() && src_[p] != c) p += src_[p] == '\\' ? 2 : 1;
      if (p < src_.size()) {
        auto value = decode_string_literal(std::string_view(src_).substr(start + 1, p - start - 1));
        if (!value.ok()) return fail(start, value.message());
        push(TokenType::kString, std::move(value.value()), start);
        pos_ = p + 1;
        return Ok{};
      }
    }
    static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwoChar) {
      if (starts_with(start, op)) {
        push(TokenType::kOperator, std::string(op), start);
        pos_ += 2;
        return Ok{};
      }
    }
    static constexpr std::string_view kOneChar = "+-/*%~[](){}><=.:|,;";
    if (kOneChar.find(c) == std::string_view::npos) {
      size_t end = start;
      decode_lenient(src_, end);
      return fail(start, "unexpected char " + format_py_repr(src_.substr(start, end - start)) +
                             " at " + std::to_string(start));
    }
    if (c == '(' || c == '[' || c == '{') {
      if (brackets_.size() >= kMaxBracketDepth) return fail(start, "brackets nest too deeply");
      brackets_.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets_.empty()) return fail(start, std::string("unexpected '") + c + "'");
      const char expected = brackets_.back();
      brackets_.pop_back();
      if (expected != c)
        return fail(start, std::string("unexpected '") + c + "', expected '" + expected + "'");
    }
    push(TokenType::kOperator, std::string(1, c), start);
    ++pos_;
    return Ok{};
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  std::vector<char> brackets_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source) {
  return Lexer(source).run();
}

std::string describe_token(const Token& token) {
  switch (token.type) {
    case TokenType::kData:
      return "template data / text";
    case TokenType::kVariableBegin:
      return "begin of print statement";
    case TokenType::kVariableEnd:
      return "end of print statement";
    case TokenType::kBlockBegin:
      return "begin of statement block";
    case TokenType::kBlockEnd:
      return "end of statement block";
    case TokenType::kName:
      return token.text;
    case TokenType::kString:
      return "string";
    case TokenType::kInteger:
      return "integer";
    case TokenType::kFloat:
      return "float";
    case TokenType::kOperator:
      return token.text;
    case TokenType::kEof:
      return "end of template";
  }
  return "token";
}

}  // namespace troupe::chat
