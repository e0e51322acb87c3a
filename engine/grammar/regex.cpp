#include "engine/grammar/regex.hpp"

#include <string>

#include "engine/grammar/grammar_builder.hpp"
#include "engine/grammar/syntax_reading.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace troupe::grammar {
namespace {

constexpr int kMaxNesting = 100;

struct RegexError {
  size_t at;
  std::string what;
};

const CodepointRanges kDigits = {{'0', '9'}};
const CodepointRanges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CodepointRanges kSpace = {{'\t', '\r'}, {' ', ' '}};

class RegexParser {
 public:
  explicit RegexParser(std::string_view text) : text_(text) {}

  Result<Grammar> run() {
    try {
      if (peek() == '^') ++pos_;
      std::vector<Sequence> alternatives = parse_alternatives(0);
      if (pos_ < text_.size()) fail("unexpected ')'");
      b_.define(b_.rule("root"), std::move(alternatives));
    } catch (const RegexError& e) {
      return make_error("regex at " + std::to_string(e.at) + ": " + e.what);
    }
    return b_.finish("root");
  }

 private:
  [[noreturn]] void fail(std::string what) const { throw RegexError{pos_, std::move(what)}; }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }

  std::vector<Sequence> parse_alternatives(int depth) {
    std::vector<Sequence> out{parse_sequence(depth)};
    while (peek() == '|') {
      ++pos_;
      out.push_back(parse_sequence(depth));
    }
    return out;
  }

  Sequence parse_sequence(int depth) {
    Sequence out;
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (peek() == '$' && pos_ + 1 == text_.size()) {
        ++pos_;
        break;
      }
      Element atom = parse_atom(depth);
      if (!at_end() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')) {
        auto [min, max] = parse_quantifier();
        if (peek() == '?') ++pos_;  // lazy: the same strings
        const Sequence repeated = b_.repeat(atom, min, max, "regex");
        out.insert(out.end(), repeated.begin(), repeated.end());
      } else {
        out.push_back(atom);
      }
    }
    return out;
  }

  std::pair<int, int> parse_quantifier() {
    const char op = text_[pos_++];
    if (op == '*') return {0, -1};
    if (op == '+') return {1, -1};
    if (op == '?') return {0, 1};
    const int min = parse_count();
    int max = min;
    if (peek() == ',') {
      ++pos_;
      max = peek() == '}' ? -1 : parse_count();
    }
    if (peek() != '}') fail("expected '}'");
    ++pos_;
    if (max >= 0 && max < min) fail("a repetition's maximum is below its minimum");
    return {min, max};
  }

  int parse_count() {
    const int value = read_count(text_, pos_);
    if (value == -2) fail("a repetition count above " + std::to_string(kMaxRepetition));
    if (value < 0) fail("expected a number");
    return value;
  }

  Element parse_atom(int depth) {
    const char c = peek();
    if (c == '(') {
      if (depth >= kMaxNesting) fail("groups nested too deep");
      ++pos_;
      if (peek() == '?') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == ':') {
          pos_ += 2;
        } else {
          fail("lookaround and named groups are not supported");
        }
      }
      std::vector<Sequence> alternatives = parse_alternatives(depth + 1);
      if (peek() != ')') fail("expected ')'");
      ++pos_;
      const int32_t group = b_.fresh_rule("regex");
      b_.define(group, std::move(alternatives));
      return Element::ref(group);
    }
    if (c == '[') return parse_class();
    if (c == '.') {
      ++pos_;
      return b_.char_class({{'\n', '\n'}}, true, "regex");
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') fail("a quantifier with nothing to repeat");
    if (c == '\\') {
      CodepointRanges ranges;
      bool negated = false;
      if (class_escape(ranges, negated)) return b_.char_class(ranges, negated, "regex");
      return literal(escaped_char());
    }
    return literal(unicode::decode_lenient(text_, pos_));
  }

  Element literal(uint32_t cpt) {
    std::string bytes;
    unicode::append_utf8(bytes, cpt);
    return b_.as_element(GrammarBuilder::literal(bytes), "regex");
  }

  // \d \w \s and their negations; false (and nothing consumed) for any other escape.
  bool class_escape(CodepointRanges& ranges, bool& negated) {
    if (pos_ + 1 >= text_.size()) return false;
    const char e = text_[pos_ + 1];
    const CodepointRanges* set = nullptr;
    switch (e) {
      case 'd':
      case 'D':
        set = &kDigits;
        break;
      case 'w':
      case 'W':
        set = &kWord;
        break;
      case 's':
      case 'S':
        set = &kSpace;
        break;
      default:
        return false;
    }
    pos_ += 2;
    ranges = *set;
    negated = e == 'D' || e == 'W' || e == 'S';
    return true;
  }

  uint32_t escaped_char() {
    ++pos_;  // the backslash
    if (at_end()) fail("a pattern ending in '\\'");
    const char e = text_[pos_++];
    switch (e) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'x':
        return hex(2);
      case 'u':
        return hex(4);
      default:
        if ((e >= '0' && e <= '9') || e == 'b' || e == 'B' || e == 'k') {
          --pos_;
          fail(std::string("'\\") + e + "' (back references and word boundaries) is not supported");
        }
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
          --pos_;
          fail(std::string("unknown escape '\\") + e + "'");
        }
        return static_cast<unsigned char>(e);  // escaped punctuation stands for itself
    }
  }

  uint32_t hex(int digits) {
    const auto value = read_hex(text_, pos_, digits);
    if (!value) fail("expected " + std::to_string(digits) + " hexadecimal digits");
    return *value;
  }

  uint32_t class_char() {
    if (peek() == '\\') return escaped_char();
    return unicode::decode_lenient(text_, pos_);
  }

  Element parse_class() {
    ++pos_;  // [
    const bool negated = peek() == '^';
    if (negated) ++pos_;
    CodepointRanges ranges;
    bool first = true;
    while (first || peek() != ']') {
      if (at_end()) fail("a class without its closing ']'");
      first = false;
      CodepointRanges set;
      bool set_negated = false;
      if (peek() == '\\' && class_escape(set, set_negated)) {
        if (set_negated) fail("\\D, \\W and \\S inside a class are not supported");
        ranges.insert(ranges.end(), set.begin(), set.end());
        continue;
      }
      const uint32_t lo = class_char();
      uint32_t hi = lo;
      if (peek() == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
        ++pos_;
        hi = class_char();
        if (hi < lo) fail("a range whose end is below its start");
      }
      ranges.emplace_back(lo, hi);
    }
    ++pos_;
    return b_.char_class(std::move(ranges), negated, "regex");
  }

  std::string_view text_;
  size_t pos_ = 0;
  GrammarBuilder b_;
};

}  // namespace

Result<Grammar> parse_regex(std::string_view pattern) {
  return RegexParser(pattern).run();
}

}  // namespace troupe::grammar
