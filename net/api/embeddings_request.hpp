#pragma once
// Decodes POST /v1/embeddings: `input` as a string, strings, token ids or lists of token ids,
// one engine request each (SamplingParams::pooling), `encoding_format` float or base64, and the
// pooling (troupe's extra, as llama.cpp's server takes --pooling: "mean", the default, or
// "last"). `dimensions` other than the model's own is refused: its vectors cannot be shortened.
#include <optional>
#include <string_view>

#include "net/api/openai_request.hpp"

namespace troupe::api {

struct EmbeddingsCall {
  ApiGeneration generation;  // one request per input, in order
  bool base64 = false;       // encoding_format "base64"
};

std::optional<ApiError> decode_embeddings_request(std::string_view body, const ApiLimits& limits,
                                                  EmbeddingsCall& out);

}  // namespace troupe::api
