#include "engine/model/model.hpp"

namespace troupe {

Result<Model> load_model(const std::string& path, const ShardSpec& shard, CpuPacking packing) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  auto config = read_model_config(**file);
  if (!config) return make_error("model file '" + path + "': " + config.message());
  auto weights = load_model_weights(*file, *config, shard, packing);
  if (!weights) return make_error("model file '" + path + "': " + weights.message());
  auto vocabulary = load_vocabulary(**file);
  if (!vocabulary) return make_error("model file '" + path + "': " + vocabulary.message());
  auto tokenizer = Tokenizer::create(std::move(*vocabulary));
  if (!tokenizer) return make_error("model file '" + path + "': " + tokenizer.message());
  if (static_cast<int>(tokenizer->vocab_size()) > config->vocab_size) {
    return make_error("model file '" + path + "': the tokenizer has more tokens than the model's " +
                      "output layer");
  }
  return Model{*file, std::move(*config), std::move(*weights), std::move(*tokenizer),
               (*file)->get_string("tokenizer.chat_template").value_or("")};
}

Result<ModelWeights> shard_weights(const Model& model, const ShardSpec& shard) {
  if (model.weights.shard == shard) return model.weights;
  ModelConfig config = model.config;
  return load_model_weights(model.file, config, shard);
}

std::string model_identity(const Model& model) {
  const gguf::File& file = *model.file;
  uint64_t bytes = 0;
  for (const auto& tensor : file.tensors()) bytes += tensor.data.size();
  return file.get_string("general.name").value_or("unnamed") + " (" +
         model.config.architecture_name + ", " + std::to_string(file.tensors().size()) +
         " tensors, " + std::to_string(bytes) + " bytes)";
}

}  // namespace troupe
