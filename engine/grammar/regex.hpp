#pragma once
// A regular expression as a grammar of the strings it matches whole (vLLM's guided_regex, TGI's
// regex grammar): literals, `.` (any character but a newline), classes [a-z] [^...], the escapes
// \d \w \s (and \D \W \S), \n \r \t \xHH \uHHHH and escaped punctuation, groups ( ) and (?: ),
// alternation |, and the quantifiers * + ? {m} {m,} {m,n} (a trailing ? for laziness means
// nothing to a matcher of whole strings). ^ at the start and $ at the end are accepted; back
// references and lookaround are errors naming the position.
#include <string_view>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::grammar {

Result<Grammar> parse_regex(std::string_view pattern);

}  // namespace troupe::grammar
