#pragma once
// Splits text around special tokens before the model's tokenizer sees it, as llama.cpp's
// tokenizer_st_partition does: longest token texts first, each one cut out of whatever text is
// left. User-defined tokens are always cut out; control and unknown tokens only when the caller
// parses specials (otherwise "<|im_end|>" in user text stays plain text).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocabulary.hpp"

namespace troupe {

struct Fragment {
  int32_t token;  // a special token's id, or -1 for raw text
  size_t offset;  // raw text: [offset, offset + length) of the input
  size_t length;
};

class SpecialTokenSplitter {
 public:
  explicit SpecialTokenSplitter(const Vocabulary& vocab);

  std::vector<Fragment> split(std::string_view text, bool parse_special) const;

 private:
  struct Special {
    int32_t id;
    std::string_view text;  // into the vocabulary, which outlives the splitter
    bool needs_parse_special;
    bool rstrip;  // drops the whitespace right after it
  };
  std::vector<Special> specials_;  // longest text first
};

}  // namespace troupe
