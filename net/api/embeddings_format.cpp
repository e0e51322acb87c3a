#include "net/api/embeddings_format.hpp"

#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

namespace troupe::api {

static_assert(std::endian::native == std::endian::little, "float32 bytes go out little-endian");

std::string base64_floats(const std::vector<float>& values) {
  const size_t bytes = values.size() * sizeof(float);
  std::string out(4 * ((bytes + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(values.data()),
                                      static_cast<int>(bytes));
  out.resize(static_cast<size_t>(written));
  return out;
}

std::string EmbeddingsFormat::body(const std::vector<ChoiceResult>& choices, Usage usage) {
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const std::vector<float>& vector = choices[i].embedding;
    data.push_back(
        {{"object", "embedding"},
         {"index", i},
         {"embedding", base64_ ? nlohmann::json(base64_floats(vector)) : nlohmann::json(vector)}});
  }
  const nlohmann::json body = {
      {"object", "list"},
      {"data", std::move(data)},
      {"model", model_},
      {"usage", {{"prompt_tokens", usage.prompt_tokens}, {"total_tokens", usage.prompt_tokens}}}};
  return body.dump();
}

}  // namespace troupe::api
