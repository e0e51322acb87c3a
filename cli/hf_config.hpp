#pragma once
// A Hugging Face config.json as the planner's model shape (troupe plan --hf-config): the JSON
// is read here, the counting is engine/plan's (shape_of_decoder).
#include <string>

#include "engine/plan/model_shape.hpp"
#include "engine/result.hpp"

namespace troupe::cli {

// From config.json's text: hidden_size, num_hidden_layers, num_attention_heads,
// intermediate_size, vocab_size (required), num_key_value_heads (default: the attention heads),
// head_dim (default hidden / heads), max_position_embeddings, tie_word_embeddings; stored as
// `weight_type`, or by its torch_dtype when empty (F32, F16, else BF16). Errors name the file
// and the missing or bad key.
Result<plan::ModelShape> shape_of_hf_config(const std::string& json_text, const std::string& name,
                                            const std::string& weight_type = "");

}  // namespace troupe::cli
