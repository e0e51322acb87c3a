#pragma once
// One request's output as its samples' tokens arrive from the engine: incremental
// detokenization and stop strings per sample, usage at the end. The request actor feeds it
// token deltas and forwards the chunks; it has no threads and no I/O.
#include <optional>
#include <string>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_planner.hpp"
#include "engine/serve/stop_matcher.hpp"
#include "engine/tokenizer/incremental_decoder.hpp"

namespace troupe {

class RequestOutput {
 public:
  // `tokenizer` must outlive this.
  RequestOutput(const Tokenizer& tokenizer, std::string request_id, const SamplingParams& params,
                int prompt_tokens);

  // A token of sample `index` with the engine's finish reason for it. Returns what to send
  // (its text may be empty while a character or a possible stop string is incomplete); nothing
  // for a sample that already ended, e.g. on a stop string the engine has not seen.
  std::optional<GenerationChunk> add(int index, const SampledToken& token, FinishReason finish);
  // An embedding request's vector: its one chunk, which ends it.
  GenerationChunk add_embedding(std::vector<float> embedding);

  // Every sample has ended, by the engine's finish or a stop string. When the engine has not
  // finished them all, the caller aborts the request there.
  bool finished() const { return ended_ == static_cast<int>(samples_.size()); }
  // Whether the engine still generates for some sample that ended here (on a stop string).
  bool engine_busy() const { return engine_finished_ < static_cast<int>(samples_.size()); }
  // Whether sample `index` ended here (on a stop string) while the engine still generates it:
  // the caller stops that sample there.
  bool engine_runs_ended(int index) const {
    const Sample& s = samples_.at(static_cast<size_t>(index));
    return s.ended && !s.engine_finished;
  }

  GenerationEnd end() const;

 private:
  struct Sample {
    IncrementalDecoder decoder;
    StopMatcher stops;
    bool ended = false;
    bool engine_finished = false;
  };

  std::string request_id_;
  bool with_logprobs_;
  int prompt_tokens_;
  int completion_tokens_ = 0;
  int ended_ = 0;
  int engine_finished_ = 0;
  std::vector<Sample> samples_;
};

}  // namespace troupe
