#pragma once
// UTF-8 text helpers with Python str semantics: templates index, strip and case-map by code
// point, so byte-wise std::string operations would disagree with jinja2 on non-ASCII text.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/unicode.hpp"

namespace troupe::chat {

// Code points are decoded and encoded as the tokenizer does: an invalid byte decodes as U+FFFD
// and advances by one, so no input is ever rejected.
using unicode::append_utf8;
using unicode::decode_lenient;

size_t count_code_points(std::string_view text);
std::vector<std::string_view> split_code_points(std::string_view text);

// str.isspace() for a code point.
bool is_py_space(char32_t cp);
// Length of the Python whitespace character starting at `pos`, or 0 if there is none.
size_t py_space_length(std::string_view text, size_t pos);

// str.strip/lstrip/rstrip: without `chars` strips Python whitespace, else the given code points.
std::string_view py_strip(std::string_view text, bool left, bool right);
std::string_view py_strip_chars(std::string_view text, std::string_view chars, bool left,
                                bool right);

// Case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other scripts pass
// through unchanged (documented limitation).
std::string py_upper(std::string_view text);
std::string py_lower(std::string_view text);
std::string py_capitalize(std::string_view text);    // str.capitalize()
std::string py_title_method(std::string_view text);  // str.title()
bool is_cased_lower(char32_t cp);
bool is_cased_upper(char32_t cp);
bool is_alpha(char32_t cp);

// str.splitlines(): splits on \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
std::vector<std::string_view> py_splitlines(std::string_view text);

}  // namespace troupe::chat
