#include "engine/grammar/token_mask.hpp"

#include <algorithm>
#include <map>

namespace troupe::grammar {

VocabularyTrie::VocabularyTrie(const std::vector<std::string>& token_bytes,
                               std::vector<int32_t> end_tokens)
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

}  // namespace

TokenMask allowed_tokens(StateCache& cache, int32_t state, const VocabularyTrie& vocabulary) {
  TokenMask mask(vocabulary.size());
  walk(cache, vocabulary, 0, state, mask);
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
