#pragma once
// A model's shape for the planner (engine/plan/deployment_plan.hpp), from a GGUF file or from
// a Hugging Face config.json (so a model not yet downloaded as GGUF can be planned).
#include <string>

#include "engine/gguf/gguf_file.hpp"
#include "engine/plan/deployment_plan.hpp"
#include "engine/result.hpp"

namespace troupe::plan {

// The layers, heads and context from the GGUF's metadata; parameters and bytes from its tensors.
Result<ModelShape> shape_of_gguf(const gguf::File& file);

// From config.json's text: hidden_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads (default: the attention heads), head_dim (default hidden / heads),
// intermediate_size, vocab_size, max_position_embeddings, tie_word_embeddings; the parameters
// counted for a Llama-style decoder, stored as `weight_type` ("BF16" by config.json's
// torch_dtype when empty, or a quantization troupe runs). Errors name the missing or bad key.
Result<ModelShape> shape_of_hf_config(const std::string& json_text, const std::string& name,
                                      const std::string& weight_type = "");

}  // namespace troupe::plan
