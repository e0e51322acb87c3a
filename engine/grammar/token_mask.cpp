#include "engine/grammar/token_mask.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "engine/grammar/utf8_ranges.hpp"

namespace troupe::grammar {

namespace {

// Every character above ASCII as its UTF-8 byte sequences (utf8_ranges.hpp). ASCII's plain
// characters are apart: 0x20..0x7E but '"' and '\\'.
const std::vector<ByteRanges>& multibyte_forms() {
  static const std::vector<ByteRanges> forms = [] {
    std::vector<ByteRanges> out;
    utf8_sequences(0x80, 0x10FFFF, out);
    return out;
  }();
  return forms;
}

bool plain_ascii(uint8_t b) {
  return b >= 0x20 && b < 0x7F && b != '"' && b != '\\';
}

// The length of the plain character at `at`, or 0 where none starts there.
size_t plain_character_length(std::string_view bytes, size_t at) {
  if (plain_ascii(static_cast<uint8_t>(bytes[at]))) return 1;
  for (const ByteRanges& form : multibyte_forms()) {
    if (at + form.size() > bytes.size()) continue;
    size_t k = 0;
    while (k < form.size() && static_cast<uint8_t>(bytes[at + k]) >= form[k].first &&
           static_cast<uint8_t>(bytes[at + k]) <= form[k].second) {
      ++k;
    }
    if (k == form.size()) return k;
  }
  return 0;
}

}  // namespace

int plain_characters(std::string_view bytes) {
  if (bytes.empty()) return -1;
  int chars = 0;
  for (size_t at = 0; at < bytes.size(); ++chars) {
    const size_t length = plain_character_length(bytes, at);
    if (length == 0) return -1;
    at += length;
  }
  return chars;
}

VocabularyTrie::VocabularyTrie(const std::vector<std::string>& token_bytes,
                               std::vector<int32_t> end_tokens)
    : VocabularyTrie(token_bytes, end_tokens, OneLevel{}) {
  std::vector<int> chars(token_bytes.size());
  int longest = 0;
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    chars[id] = is_end(static_cast<int32_t>(id)) ? -1 : plain_characters(token_bytes[id]);
    longest = std::max(longest, chars[id]);
  }
  plain_up_to_.assign(static_cast<size_t>(longest) + 1, TokenMask(size_));
  std::vector<std::string> others = token_bytes;
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if (chars[id] < 0) continue;
    for (int k = chars[id]; k <= longest; ++k) {
      plain_up_to_[static_cast<size_t>(k)].allow(static_cast<int32_t>(id));
    }
    others[id].clear();  // not in the others' trie
  }
  others_.reset(new VocabularyTrie(others, end_tokens_, OneLevel{}));
}

const TokenMask& VocabularyTrie::plain_up_to(int chars) const {
  return plain_up_to_[static_cast<size_t>(std::clamp(chars, 0, longest_plain()))];
}

VocabularyTrie::VocabularyTrie(const std::vector<std::string>& token_bytes,
                               std::vector<int32_t> end_tokens, OneLevel)
    : size_(static_cast<int32_t>(token_bytes.size())),
      bytes_(token_bytes),
      end_tokens_(std::move(end_tokens)) {
  // Built as a tree of maps, then laid out in flat arrays.
  struct Building {
    std::map<uint8_t, int32_t> children;
    std::vector<int32_t> tokens;
  };
  std::vector<Building> tree(1);
  for (int32_t id = 0; id < size_; ++id) {
    const std::string& bytes = token_bytes[static_cast<size_t>(id)];
    if (bytes.empty()) continue;
    int32_t at = 0;
    for (char c : bytes) {
      const auto b = static_cast<uint8_t>(c);
      auto it = tree[static_cast<size_t>(at)].children.find(b);
      if (it == tree[static_cast<size_t>(at)].children.end()) {
        tree.emplace_back();
        it = tree[static_cast<size_t>(at)]
                 .children.emplace(b, static_cast<int32_t>(tree.size() - 1))
                 .first;
      }
      at = it->second;
    }
    tree[static_cast<size_t>(at)].tokens.push_back(id);
  }
  // Depth-first preorder: a node's subtree is one run of the arrays, so a mask's walk reads
  // them front to back instead of jumping between nodes made at different times.
  std::vector<int32_t> order;  // new index -> building index
  std::vector<int32_t> renumbered(tree.size());
  std::vector<int32_t> pending = {0};
  while (!pending.empty()) {
    const int32_t at = pending.back();
    pending.pop_back();
    renumbered[static_cast<size_t>(at)] = static_cast<int32_t>(order.size());
    order.push_back(at);
    const auto& children = tree[static_cast<size_t>(at)].children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) pending.push_back(it->second);
  }
  nodes_.resize(tree.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const Building& b = tree[static_cast<size_t>(order[i])];
    Node& n = nodes_[i];
    n.first_child = static_cast<int32_t>(children_.size());
    n.child_count = static_cast<int32_t>(b.children.size());
    for (const auto& [byte, node] : b.children) {
      children_.push_back({byte, renumbered[static_cast<size_t>(node)]});
    }
    n.first_token = static_cast<int32_t>(tokens_.size());
    n.token_count = static_cast<int32_t>(b.tokens.size());
    tokens_.insert(tokens_.end(), b.tokens.begin(), b.tokens.end());
  }
}

bool VocabularyTrie::is_end(int32_t token) const {
  return std::find(end_tokens_.begin(), end_tokens_.end(), token) != end_tokens_.end();
}

namespace {

// Depth-first over the trie below `node`, reached in `state`.
void walk(StateCache& cache, const VocabularyTrie& trie, int32_t node, int32_t state,
          TokenMask& mask) {
  const VocabularyTrie::Node& n = trie.node(node);
  for (int32_t c = n.first_child; c < n.first_child + n.child_count; ++c) {
    const VocabularyTrie::Child& child = trie.child(c);
    const int32_t next = cache.next(state, child.byte);
    if (next == StateCache::kDead) continue;
    const VocabularyTrie::Node& reached = trie.node(child.node);
    for (int32_t t = reached.first_token; t < reached.first_token + reached.token_count; ++t) {
      mask.allow(trie.token(t));
    }
    if (reached.child_count > 0) walk(cache, trie, child.node, next, mask);
  }
}

// The one state every plain character leads `state` to (kDead included), or nothing where two
// characters lead to different states.
std::optional<int32_t> plain_successor(StateCache& cache, int32_t state) {
  std::optional<int32_t> common;
  const auto agrees = [&](int32_t to) {
    if (!common) common = to;
    return *common == to;
  };
  for (int b = 0; b < 0x80; ++b) {
    if (plain_ascii(static_cast<uint8_t>(b)) &&
        !agrees(cache.next(state, static_cast<uint8_t>(b)))) {
      return std::nullopt;
    }
  }
  std::vector<int32_t> at, after;
  for (const ByteRanges& form : multibyte_forms()) {
    at = {state};
    for (const auto& [lo, hi] : form) {
      after.clear();
      for (int32_t s : at) {
        for (int b = lo; b <= hi; ++b) {
          const int32_t to = s == StateCache::kDead ? s : cache.next(s, static_cast<uint8_t>(b));
          if (std::find(after.begin(), after.end(), to) == after.end()) after.push_back(to);
        }
      }
      at.swap(after);
    }
    for (int32_t s : at) {
      if (!agrees(s)) return std::nullopt;
    }
  }
  return common;
}

// How many plain characters, at most, lead from `state` through states that each send every
// plain character to one same state, and never to kDead: every plain token that long or shorter
// is allowed, every longer one refused. -1 where that does not decide (`state` is not such a
// state, or a later one on the way is not): the walk then decides every token.
int plain_reach(StateCache& cache, int32_t state, int longest) {
  int32_t at = state;
  for (int k = 0; k < longest; ++k) {
    const auto next = plain_successor(cache, at);
    if (!next) return -1;
    if (*next == StateCache::kDead) return k;
    if (*next == at) return longest;  // a loop: any number of characters
    at = *next;
  }
  return longest;
}

}  // namespace

TokenMask allowed_tokens(StateCache& cache, int32_t state, const VocabularyTrie& vocabulary) {
  TokenMask mask(vocabulary.size());
  const int reach =
      vocabulary.others() ? plain_reach(cache, state, vocabulary.longest_plain()) : -1;
  if (reach >= 0) {
    mask = vocabulary.plain_up_to(reach);
    walk(cache, *vocabulary.others(), 0, state, mask);
  } else {
    walk(cache, vocabulary, 0, state, mask);
  }
  if (cache.complete(state)) {
    for (int32_t id : vocabulary.end_tokens()) mask.allow(id);
  }
  return mask;
}

TokenMasker::TokenMasker(std::shared_ptr<const CompiledGrammar> grammar,
                         std::shared_ptr<const VocabularyTrie> vocabulary)
    : states_(std::move(grammar)), vocabulary_(std::move(vocabulary)) {}

const TokenMask& TokenMasker::mask(int32_t state) {
  if (masks_.size() <= static_cast<size_t>(state)) masks_.resize(static_cast<size_t>(state) + 1);
  auto& mask = masks_[static_cast<size_t>(state)];
  if (!mask) mask = std::make_unique<TokenMask>(allowed_tokens(states_, state, *vocabulary_));
  return *mask;
}

TokenMask allowed_tokens(const std::shared_ptr<const CompiledGrammar>& grammar,
                         const StackSet& stacks, const VocabularyTrie& vocabulary) {
  StateCache cache(grammar);
  return allowed_tokens(cache, cache.state_of(stacks), vocabulary);
}

}  // namespace troupe::grammar
