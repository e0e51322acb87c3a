#include "engine/tokenizer/incremental_decoder.hpp"

#include "engine/tokenizer/unicode.hpp"

namespace troupe {
namespace {

// Appends the complete characters of `bytes` (ill-formed ones as U+FFFD) and returns how many
// bytes that took; the rest is the start of a character cut off by the end.
size_t append_complete(std::string_view bytes, std::string& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const unicode::SequenceCheck check = unicode::check_sequence(bytes, pos);
    if (check.kind == unicode::SequenceCheck::kTruncated) break;
    if (check.kind == unicode::SequenceCheck::kValid) {
      out.append(bytes.substr(pos, check.length));
    } else {
      unicode::append_utf8(out, unicode::kReplacementCharacter);
    }
    pos += check.length;
  }
  return pos;
}

}  // namespace

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

std::string IncrementalDecoder::push(int32_t id) {
  std::string out;
  push(id, out);
  return out;
}

void IncrementalDecoder::push(int32_t id, std::string& out) {
  std::string_view piece = tokenizer_->render(id, skip_special_);
  if (first_) {
    // As llama_detokenize: SentencePiece's prefix space comes off the first token, unless a
    // BOS is dropped first.
    first_ = false;
    const Vocabulary& v = tokenizer_->vocabulary();
    if (skip_special_ && v.add_bos && id == v.bos_id) return;
    if (v.add_space_prefix && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
  }
  if (pending_.empty()) {
    // The common case: straight from the piece, keeping only a cut-off tail.
    pending_.assign(piece.substr(append_complete(piece, out)));
    return;
  }
  pending_.append(piece);
  pending_.erase(0, append_complete(pending_, out));
}

std::string IncrementalDecoder::flush() {
  std::string out;
  unicode::append_sanitized(out, pending_);
  reset();
  return out;
}

void IncrementalDecoder::reset() {
  first_ = true;
  pending_.clear();
}

}  // namespace troupe
