#include "engine/grammar/gbnf.hpp"

#include <cstdint>
#include <string>

#include "engine/grammar/grammar_builder.hpp"
#include "engine/grammar/syntax_reading.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace troupe::grammar {
namespace {

constexpr int kMaxNesting = 100;  // parentheses within parentheses
constexpr size_t kMaxRules = 20000;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

struct ParseError {
  size_t at;
  std::string what;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Grammar> run() {
    try {
      skip_blank_lines();
      while (pos_ < text_.size()) {
        parse_rule();
        skip_blank_lines();
      }
    } catch (const ParseError& e) {
      return make_error(where(e.at) + e.what);
    }
    return builder_.finish("root");
  }

 private:
  std::string where(size_t at) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return "grammar line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
  }
  [[noreturn]] void fail(std::string what) const { throw ParseError{pos_, std::move(what)}; }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  // Spaces, tabs and comments; newlines too when `newlines` (inside parentheses, after `|`).
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && text_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }
  void skip_blank_lines() { skip_space(true); }

  std::string_view parse_name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start) fail("expected a rule name");
    return text_.substr(start, pos_ - start);
  }

  void parse_rule() {
    const size_t start = pos_;
    const std::string name(parse_name());
    skip_space(false);
    if (text_.substr(pos_, 3) != "::=") fail("expected '::=' after the rule name '" + name + "'");
    pos_ += 3;
    skip_space(true);
    std::vector<Sequence> alternatives = parse_alternatives(name, 0);
    if (!builder_.define(builder_.rule(name), std::move(alternatives))) {
      throw ParseError{start, "rule '" + name + "' is defined twice"};
    }
    if (builder_.rule_count() > kMaxRules) fail("the grammar has too many rules");
    skip_space(false);
    if (!at_end() && peek() != '\n' && peek() != '\r') fail("expected the end of the line");
  }

  // Alternatives separated by `|`. At depth 0 a newline ends them, unless the next line that is
  // not blank starts with `|`.
  std::vector<Sequence> parse_alternatives(const std::string& rule, int depth) {
    std::vector<Sequence> out;
    out.push_back(parse_sequence(rule, depth));
    for (;;) {
      const size_t before = pos_;
      skip_space(true);
      if (peek() == '|') {
        ++pos_;
        skip_space(true);
        out.push_back(parse_sequence(rule, depth));
        continue;
      }
      if (depth == 0) pos_ = before;  // the rule ends at its line's end
      return out;
    }
  }

  Sequence parse_sequence(const std::string& rule, int depth) {
    Sequence out;
    for (;;) {
      skip_space(depth > 0);
      const char c = peek();
      if (at_end() || c == '|' || c == ')' || c == '\n' || c == '\r') return out;
      // A name followed by ::= starts the next rule: only possible at depth 0 after a newline,
      // which already ended this sequence; here it is an element.
      Sequence atom = parse_atom(rule, depth);
      skip_space(depth > 0);
      if (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{') {
        const Element item = builder_.as_element(std::move(atom), rule);
        auto [min, max] = parse_repetition();
        atom = builder_.repeat(item, min, max, rule);
      }
      out.insert(out.end(), atom.begin(), atom.end());
    }
  }

  std::pair<int, int> parse_repetition() {
    const char op = text_[pos_++];
    if (op == '*') return {0, -1};
    if (op == '+') return {1, -1};
    if (op == '?') return {0, 1};
    skip_space(false);
    const int min = parse_count();
    skip_space(false);
    int max = min;
    if (peek() == ',') {
      ++pos_;
      skip_space(false);
      max = peek() == '}' ? -1 : parse_count();
      skip_space(false);
    }
    if (peek() != '}') fail("expected '}' to close the repetition");
    ++pos_;
    if (max >= 0 && max < min) fail("a repetition's maximum is below its minimum");
    return {min, max};
  }

  int parse_count() {
    const int value = read_count(text_, pos_);
    if (value == -2) fail("a repetition count above " + std::to_string(kMaxRepetition));
    if (value < 0) fail("expected a number in the repetition");
    return value;
  }

  Sequence parse_atom(const std::string& rule, int depth) {
    const char c = peek();
    if (c == '"') return parse_literal();
    if (c == '[') return {parse_class(rule)};
    if (c == '.') {
      ++pos_;
      return {builder_.char_class({{0, 0x10FFFF}}, false, rule)};
    }
    if (c == '(') {
      if (depth >= kMaxNesting) fail("parentheses nested too deep");
      ++pos_;
      skip_space(true);
      std::vector<Sequence> alternatives = parse_alternatives(rule, depth + 1);
      skip_space(true);
      if (peek() != ')') fail("expected ')'");
      ++pos_;
      if (alternatives.size() == 1) return std::move(alternatives[0]);
      const int32_t group = builder_.fresh_rule(rule);
      builder_.define(group, std::move(alternatives));
      return {Element::ref(group)};
    }
    if (is_name_char(c)) return {Element::ref(builder_.rule(parse_name()))};
    fail(at_end() ? "unexpected end of the grammar"
                  : "unexpected character '" + std::string(1, c) + "'");
  }

  // One code point of a literal or class, escapes decoded.
  uint32_t parse_char() {
    if (at_end()) fail("unexpected end of the grammar inside a literal or class");
    if (text_[pos_] != '\\') return unicode::decode_lenient(text_, pos_);
    ++pos_;
    if (at_end()) fail("unexpected end of the grammar after '\\'");
    const char e = text_[pos_++];
    switch (e) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '/':
      case '^':
        return uint32_t(e);
      case 'x':
        return parse_hex(2);
      case 'u':
        return parse_hex(4);
      case 'U':
        return parse_hex(8);
      default:
        pos_ -= 2;
        fail("unknown escape '\\" + std::string(1, e) + "'");
    }
  }

  uint32_t parse_hex(int digits) {
    const auto value = read_hex(text_, pos_, digits);
    if (!value) fail("expected " + std::to_string(digits) + " hexadecimal digits");
    if (*value > 0x10FFFF) fail("a code point above U+10FFFF");
    return *value;
  }

  Sequence parse_literal() {
    ++pos_;  // "
    std::string bytes;
    while (peek() != '"') {
      if (at_end() || peek() == '\n') fail("a literal without its closing '\"'");
      unicode::append_utf8(bytes, parse_char());
    }
    ++pos_;
    return GrammarBuilder::literal(bytes);
  }

  Element parse_class(const std::string& rule) {
    ++pos_;  // [
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    CodepointRanges ranges;
    while (peek() != ']') {
      if (at_end() || peek() == '\n') fail("a character class without its closing ']'");
      const uint32_t lo = parse_char();
      uint32_t hi = lo;
      if (peek() == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
        ++pos_;
        hi = parse_char();
        if (hi < lo) fail("a character range whose end is below its start");
      }
      ranges.emplace_back(lo, hi);
    }
    ++pos_;
    return builder_.char_class(std::move(ranges), negated, rule);
  }

  std::string_view text_;
  size_t pos_ = 0;
  GrammarBuilder builder_;
};

}  // namespace

Result<Grammar> parse_gbnf(std::string_view text) {
  return Parser(text).run();
}

}  // namespace troupe::grammar
