#include "engine/tokenizer/spm_model.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "engine/tokenizer/unicode.hpp"

namespace troupe {
namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;
  uint32_t len;  // 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t len;
};

// Highest score first; among equal scores the leftmost pair (llama.cpp's llm_bigram_spm order).
struct WorseBigram {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmModel::SpmModel(const TextMap<int32_t>& token_ids, const std::vector<float>& scores,
                   int32_t unk_id)
    : token_ids_(token_ids), scores_(scores) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = find(std::string_view(name, 6));
    if (id < 0) {
      const char c = static_cast<char>(b);
      id = find(std::string_view(&c, 1));
    }
    byte_token_[b] = id >= 0 ? id : unk_id;
  }
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t len =
        std::min(unicode::sequence_length_from_lead(static_cast<uint8_t>(text[offset])),
                 text.size() - offset);
    const int32_t index = static_cast<int32_t>(symbols.size());
    offset += len;
    symbols.push_back(Symbol{index - 1, offset == text.size() ? -1 : index + 1,
                             static_cast<uint32_t>(offset - len), static_cast<uint32_t>(len)});
  }

  std::vector<Bigram> queue;  // a heap ordered by WorseBigram
  // Which pair of symbols last formed each merged text, for re-splitting non-tokens.
  std::unordered_map<std::string_view, std::pair<int32_t, int32_t>> built_from;
  const auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t len = symbols[left].len + symbols[right].len;
    const std::string_view joined = text.substr(symbols[left].start, len);
    const int32_t id = find(joined);
    if (id < 0) return;
    queue.push_back(Bigram{score(id), left, right, len});
    std::push_heap(queue.begin(), queue.end(), WorseBigram{});
    built_from[joined] = {left, right};
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), WorseBigram{});
    const Bigram b = queue.back();
    queue.pop_back();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_pair(l.prev, b.left);
    try_pair(b.left, l.next);
  }

  // A symbol that is no token goes back to the pair that built it, or to byte tokens. The
  // depth bound only guards against a malformed vocabulary; real ones never come close.
  const auto resegment = [&](auto& self, const Symbol& s, int depth) -> void {
    const std::string_view piece = text.substr(s.start, s.len);
    const int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = built_from.find(piece);
    if (it == built_from.end() || depth > 64) {
      for (char c : piece) {
        const int32_t byte = byte_token_[static_cast<uint8_t>(c)];
        if (byte >= 0) out.push_back(byte);
      }
      return;
    }
    self(self, symbols[it->second.first], depth + 1);
    self(self, symbols[it->second.second], depth + 1);
  };
  for (int32_t i = 0; i >= 0; i = symbols[i].next) resegment(resegment, symbols[i], 0);
}

}  // namespace troupe
