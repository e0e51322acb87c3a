#include "engine/tokenizer/special_token_splitter.hpp"

#include <algorithm>
#include <cctype>

namespace troupe {

SpecialTokenSplitter::SpecialTokenSplitter(const Vocabulary& vocab) {
  for (size_t i = 0; i < vocab.tokens.size(); ++i) {
    const TokenType type = vocab.type(static_cast<int32_t>(i));
    const bool control_like = type == TokenType::kControl || type == TokenType::kUnknown;
    if (!control_like && type != TokenType::kUserDefined) continue;
    if (vocab.tokens[i].empty()) continue;  // would match everywhere
    const int32_t id = static_cast<int32_t>(i);
    specials_.push_back(Special{id, vocab.tokens[i], control_like, vocab.is_rstrip(id)});
  }
  // llama.cpp sorts by length with std::sort; ties (equal-length texts) keep id order here.
  std::stable_sort(specials_.begin(), specials_.end(), [](const Special& a, const Special& b) {
    return a.text.size() > b.text.size();
  });
}

std::vector<Fragment> SpecialTokenSplitter::split(std::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back(Fragment{-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const Special& special : specials_) {
    if (special.needs_parse_special && !parse_special) continue;
    bool found = false;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.offset, f.length);
      size_t start = 0;
      for (size_t match = raw.find(special.text); match != std::string_view::npos;
           match = raw.find(special.text, start)) {
        found = true;
        if (match > start) next.push_back(Fragment{-1, f.offset + start, match - start});
        next.push_back(Fragment{special.id, 0, 0});
        start = match + special.text.size();
        if (special.rstrip) {
          while (start < raw.size() && std::isspace(static_cast<unsigned char>(raw[start])))
            ++start;
        }
      }
      if (start < raw.size()) next.push_back(Fragment{-1, f.offset + start, raw.size() - start});
    }
    if (found) fragments.swap(next);
  }
  return fragments;
}

}  // namespace troupe
