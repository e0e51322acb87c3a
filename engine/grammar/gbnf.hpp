#pragma once
// GBNF, llama.cpp's grammar text, so that users can bring the grammars they already have:
//
//   root  ::= answer ("," ws answer)*     # comments run to the end of the line
//   answer ::= "yes" | "no" | [0-9]+ | [^"\\] | .
//
// Literals in double quotes, character classes in brackets ([^...] negated, ranges a-z), `.`
// any character, rule names, groups in parentheses, and the postfix operators *, +, ?, {m},
// {m,} and {m,n}. Escapes: \n \r \t \\ \" \[ \] \- \/ \^ \xHH \uHHHH \UHHHHHHHH. A rule ends at
// the end of its line unless the line inside parentheses or a line starting with `|` continues
// it. The start rule is `root`. Classes are over code points, compiled to UTF-8 bytes.
#include <string_view>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::grammar {

// Errors name the line and column and what was expected there.
Result<Grammar> parse_gbnf(std::string_view text);

}  // namespace troupe::grammar
