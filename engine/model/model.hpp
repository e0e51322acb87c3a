#pragma once
// Everything a GGUF file gives: the mapped file, the transformer's config and weights, the
// tokenizer and the chat template. Loading checks all of it, so a bad file fails here with one
// message instead of later, mid-request.
#include <memory>
#include <string>

#include "engine/gguf/gguf_file.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "engine/result.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace troupe {

struct Model {
  std::shared_ptr<const gguf::File> file;
  ModelConfig config;
  ModelWeights weights;
  Tokenizer tokenizer;
  std::string chat_template;  // tokenizer.chat_template, empty when the file has none
};

// `shard`: which tensor-parallel rank's slices of the layers to keep (all of them by default);
// `packing`: no for a model that runs on a GPU.
Result<Model> load_model(const std::string& path, const ShardSpec& shard = {},
                         CpuPacking packing = CpuPacking::yes);

// The model's weights as rank `shard`'s: its own when it was loaded as that shard, else that
// shard's views of its file (errors: load_model_weights's).
Result<ModelWeights> shard_weights(const Model& model, const ShardSpec& shard);

// What nodes of a cluster compare to know they serve the same model, wherever its file lies:
// the model's name, architecture, tensor count and tensor bytes, e.g.
// "SmolLM2 135M Instruct (llama, 272 tensors, 101134592 bytes)".
std::string model_identity(const Model& model);

}  // namespace troupe
