#include "engine/tokenizer/bpe_model.hpp"

#include <algorithm>
#include <deque>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace troupe {
namespace {

struct Symbol {
  int32_t id;  // interned text id; -1 when the text is unknown (it can then never merge)
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t len;  // 0 once merged into its left neighbour
};

struct Candidate {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t result;
  uint32_t len;  // left.len + right.len when queued; a mismatch later means it is stale
};

// Lowest rank first; among equal ranks the leftmost pair, as llama.cpp orders them.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

// Raw bytes spelled by a token text, when the text is made of byte-alphabet characters only.
bool raw_bytes_of(std::string_view text, std::string& raw) {
  raw.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    const int byte = byte_level::decode(unicode::decode_lenient(text, pos));
    if (byte < 0) return false;
    raw.push_back(static_cast<char>(byte));
  }
  std::string respelled;
  byte_level::append_encoded(respelled, raw);
  return respelled == text;  // rejects overlong spellings that decode to the same bytes
}

}  // namespace

BpeModel::BpeModel(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                   bool ignore_merges)
    : n_tokens_(static_cast<int32_t>(tokens.size())), ignore_merges_(ignore_merges) {
  // Intern every text a merge can produce or consume: token texts keep their ids, other texts
  // (merges whose parts are not tokens) get ids past the vocabulary.
  std::unordered_map<std::string_view, int32_t> interned;
  interned.reserve(tokens.size() + merges.size() / 8);
  for (int32_t i = 0; i < n_tokens_; ++i) interned[tokens[i]] = i;
  std::deque<std::string> extra_texts;
  int32_t next_id = n_tokens_;
  const auto intern = [&](std::string_view text) {
    auto it = interned.find(text);
    if (it != interned.end()) return it->second;
    const std::string& owned = extra_texts.emplace_back(text);
    interned.emplace(owned, next_id);
    return next_id++;
  };

  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) continue;
    const std::string_view left(m.data(), space);
    const std::string_view right(m.data() + space + 1, m.size() - space - 1);
    joined.assign(left);
    joined.append(right);
    const int32_t l = intern(left);
    const int32_t r = intern(right);
    const int32_t result = intern(joined);
    merges_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(rank), result});
  }

  for (int b = 0; b < 256; ++b) {
    auto it = interned.find(byte_level::encode(static_cast<uint8_t>(b)));
    byte_symbol_[b] = it != interned.end() ? it->second : -1;
    const char c = static_cast<char>(b);
    auto single = interned.find(std::string_view(&c, 1));
    single_char_token_[b] =
        single != interned.end() && single->second < n_tokens_ ? single->second : -1;
  }

  if (ignore_merges_) {
    std::string raw;
    for (int32_t i = 0; i < n_tokens_; ++i) {
      if (raw_bytes_of(tokens[i], raw)) raw_token_[raw] = i;
    }
  }
}

void BpeModel::emit_symbol(std::string_view bytes, int32_t id, std::vector<int32_t>& out) const {
  if (id >= 0 && id < n_tokens_) {
    out.push_back(id);
    return;
  }
  // Not a token: llama.cpp looks up each byte of the spelled text as a one-character token.
  std::string spelled;
  byte_level::append_encoded(spelled, bytes);
  for (char c : spelled) {
    const int32_t token = single_char_token_[static_cast<uint8_t>(c)];
    if (token >= 0) out.push_back(token);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = raw_token_.find(word);
    if (it != raw_token_.end()) {
      out.push_back(it->second);
      return;
    }
  }

  // Scratch reused across words (encode runs on many threads at once).
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> queue;  // a heap ordered by LaterCandidate
  symbols.clear();
  queue.clear();

  const int32_t n = static_cast<int32_t>(word.size());
  symbols.reserve(word.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols.push_back(Symbol{byte_symbol_[static_cast<uint8_t>(word[i])], i - 1,
                             i + 1 < n ? i + 1 : -1, static_cast<uint32_t>(i), 1});
  }

  const auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    if (l.id < 0 || r.id < 0) return;
    auto it = merges_.find(pair_key(l.id, r.id));
    if (it == merges_.end()) return;
    queue.push_back(Candidate{it->second.rank, left, right, it->second.result, l.len + r.len});
    std::push_heap(queue.begin(), queue.end(), LaterCandidate{});
  };
  for (int32_t i = 1; i < n; ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), LaterCandidate{});
    const Candidate c = queue.back();
    queue.pop_back();
    Symbol& l = symbols[c.left];
    Symbol& r = symbols[c.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.len) continue;
    l.len += r.len;
    l.id = c.result;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    emit_symbol(word.substr(s.start, s.len), s.id, out);
  }
}

}  // namespace troupe
