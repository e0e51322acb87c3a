#pragma once
// The tokens a grammar state allows. Each token's bytes are matched from the state's stacks
// through a trie of the vocabulary, so tokens that share a prefix share its matching, and a
// branch is left as soon as no stack takes its byte. End-of-sequence tokens are allowed only
// where the grammar is complete; tokens that stand for no bytes (control tokens) never are.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar_matcher.hpp"
#include "engine/grammar/state_cache.hpp"

namespace troupe::grammar {

// One bit per token of the vocabulary.
class TokenMask {
 public:
  explicit TokenMask(int32_t tokens = 0) : words_(static_cast<size_t>((tokens + 63) / 64), 0) {}
  void allow(int32_t token) {
    words_[static_cast<size_t>(token) / 64] |= uint64_t{1} << (token % 64);
  }
  bool allowed(int32_t token) const {
    return (words_[static_cast<size_t>(token) / 64] >> (token % 64)) & 1;
  }
  const std::vector<uint64_t>& words() const { return words_; }
  bool operator==(const TokenMask&) const = default;

 private:
  std::vector<uint64_t> words_;
};

// The vocabulary as a trie of its tokens' bytes; and, decided once whatever the grammar (what
// xgrammar calls context-independent), its plain tokens: whole UTF-8 characters, none of them
// '"', '\\', a control character or DEL. Where every plain character leads the automaton to one
// same state (inside a JSON string), a plain token's fate depends only on its length in
// characters, and only the other tokens need the walk.
class VocabularyTrie {
 public:
  // `token_bytes[id]`: what token `id` adds to the text (empty for a control token);
  // `end_tokens`: the ids that end a sequence.
  VocabularyTrie(const std::vector<std::string>& token_bytes, std::vector<int32_t> end_tokens);

  // The plain tokens of at most `chars` characters (all of them from longest_plain() on).
  const TokenMask& plain_up_to(int chars) const;
  int longest_plain() const { return static_cast<int>(plain_up_to_.size()) - 1; }
  // Every token that is not plain, as a trie of its own; null in that trie itself.
  const VocabularyTrie* others() const { return others_.get(); }

  int32_t size() const { return size_; }
  const std::string& bytes(int32_t token) const { return bytes_[static_cast<size_t>(token)]; }
  bool is_end(int32_t token) const;
  const std::vector<int32_t>& end_tokens() const { return end_tokens_; }

  struct Node {
    int32_t first_child = 0, child_count = 0;  // in children_, sorted by byte
    int32_t first_token = 0, token_count = 0;  // in tokens_: the tokens whose bytes end here
  };
  struct Child {
    uint8_t byte;
    int32_t node;
  };
  const Node& node(int32_t index) const { return nodes_[static_cast<size_t>(index)]; }
  const Child& child(int32_t index) const { return children_[static_cast<size_t>(index)]; }
  int32_t token(int32_t index) const { return tokens_[static_cast<size_t>(index)]; }

 private:
  int32_t size_ = 0;
  std::vector<std::string> bytes_;
  std::vector<int32_t> end_tokens_;
  std::vector<Node> nodes_;  // 0 is the root (the empty prefix)
  std::vector<Child> children_;
  std::vector<int32_t> tokens_;
  std::vector<TokenMask> plain_up_to_;  // [k]: the plain tokens of at most k characters
  std::unique_ptr<VocabularyTrie> others_;

  struct OneLevel {};  // the trie of the other tokens has no partition of its own
  VocabularyTrie(const std::vector<std::string>& token_bytes, std::vector<int32_t> end_tokens,
                 OneLevel);
};

// A plain text's length in characters, or -1 where `bytes` is not plain (VocabularyTrie).
int plain_characters(std::string_view bytes);

// The tokens whose whole bytes `state` accepts, and the end tokens if it is complete.
TokenMask allowed_tokens(StateCache& cache, int32_t state, const VocabularyTrie& vocabulary);

// A grammar's masks over one vocabulary, each state's computed once: inside a JSON string the
// state after any ordinary character is the same one, so a string's later tokens find their
// mask made. One sequence's (no locking).
class TokenMasker {
 public:
  TokenMasker(std::shared_ptr<const CompiledGrammar> grammar,
              std::shared_ptr<const VocabularyTrie> vocabulary);

  StateCache& states() { return states_; }
  const VocabularyTrie& vocabulary() const { return *vocabulary_; }
  const TokenMask& mask(int32_t state);

 private:
  StateCache states_;
  std::shared_ptr<const VocabularyTrie> vocabulary_;
  std::vector<std::unique_ptr<TokenMask>> masks_;  // by state; null until first asked
};

// The same for a stack set, through a cache of its own (tests; one-off masks).
TokenMask allowed_tokens(const std::shared_ptr<const CompiledGrammar>& grammar,
                         const StackSet& stacks, const VocabularyTrie& vocabulary);

}  // namespace troupe::grammar
