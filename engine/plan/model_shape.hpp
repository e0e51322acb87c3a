#pragma once
// A model's shape for the planner (engine/plan/deployment_plan.hpp), from a GGUF file or from a
// decoder's dimensions (a Hugging Face config.json's: a model not yet downloaded as GGUF).
#include <cstdint>
#include <string>

#include "engine/gguf/gguf_file.hpp"
#include "engine/plan/deployment_plan.hpp"
#include "engine/result.hpp"

namespace troupe::plan {

// The layers, heads and context from the GGUF's metadata; parameters and bytes from its tensors.
Result<ModelShape> shape_of_gguf(const gguf::File& file);

// A Llama-style decoder's dimensions, as a Hugging Face config.json gives them
// (cli/hf_config reads that file).
struct DecoderDims {
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate = 0;
  int64_t vocab = 0;
  int64_t context_length = 0;
  bool tied_embeddings = false;
};

// The shape of such a decoder with its parameters counted, stored as `weight_type` (a
// quantization troupe runs, F16, BF16 or F32); an unknown type is refused by name.
Result<ModelShape> shape_of_decoder(const DecoderDims& dims, const std::string& name,
                                    const std::string& weight_type);

}  // namespace troupe::plan
