#pragma once
// Python's text forms of scalars: templates print numbers and reprs, and the result must match
// what CPython prints byte for byte (float repr, string repr quoting and escapes).
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace troupe::chat {

class Value;

// repr(float) / str(float): shortest round-trip digits, "1.0", "1e+16", "inf", "nan".
std::string format_py_float(double value);
// repr(str): quotes and escapes like CPython.
std::string format_py_repr(std::string_view text);

// Appends Python's escape for a code point: \xNN, \uNNNN or \UNNNNNNNN.
void append_py_escape(std::string& out, char32_t cp);

// int(str) and float(str) as Python parses them (surrounding whitespace and '_' separators
// allowed). Return false when Python would raise ValueError.
bool parse_py_int(std::string_view text, int base, int64_t& out);
bool parse_py_float(std::string_view text, double& out);

// markupsafe.escape: & < > " ' become HTML entities.
std::string html_escape(std::string_view text);

// printf-style `format % args` as Python's str.__mod__ does it (%s %r %d %i %f %e %g %x %o
// %c %%, flags, width, precision and %(key)s). `args` is a tuple, a mapping or a single value.
// It stops once the text passes `max_bytes` (each piece may add 10 KB of padding), returning
// that much for the caller's budget to refuse.
Result<std::string> py_percent_format(std::string_view format, const Value& args, size_t max_bytes);

}  // namespace troupe::chat
