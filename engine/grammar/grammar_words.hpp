#pragma once
// A grammar as a flat list of 32-bit words, the form it travels in with a request's sampling
// parameters (to a worker on another node, too): the root, the rule count, then per rule its
// alternative count and per alternative its element count and elements, a byte range as
// lo | hi << 8 and a reference to rule r as -(r + 1). Rule names stay behind: the grammar was
// checked, with them, where the request came in.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::grammar {

std::vector<int32_t> to_words(const Grammar& grammar);
// Checks every count and index against the words' length: words off the network may be
// anything.
Result<Grammar> from_words(std::span<const int32_t> words);

}  // namespace troupe::grammar
