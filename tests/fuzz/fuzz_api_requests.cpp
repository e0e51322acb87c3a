// libFuzzer entry point for the HTTP API's parsers: any bytes, as the body of a chat, completions,
// responses, embeddings or TGI request, must decode or give an error naming what was wrong, never a
// crash; a decoded request must hold only what the engine accepts (parameters in range, token ids
// inside the vocabulary). The same bytes also go through the SSE reader and the URL parser.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
//
// With TROUPE_FUZZ_SEED_DIR set, the first run writes a few valid requests there.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/sample/sampling_params.hpp"
#include "net/api/embeddings_request.hpp"
#include "net/api/openai_request.hpp"
#include "net/api/responses_request.hpp"
#include "net/api/tgi_request.hpp"
#include "net/http/http_client.hpp"
#include "net/http/sse_reader.hpp"

using namespace troupe;

namespace {

constexpr int kVocab = 1000;

const char* const kSeeds[] = {
    R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,)"
    R"("stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2,"stop":["x"]})",
    R"({"prompt":[[1,2,3],"text"],"n":2,"logit_bias":{"5":-100},"seed":-3,"logprobs":1})",
    R"({"inputs":"hello","parameters":{"max_new_tokens":5,"do_sample":true,"temperature":0.5,)"
    R"("stop":["."],"details":true,"seed":7}})",
    "data: {\"a\":1}\n\ndata:[DONE]\n\n",
    R"({"input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]},)"
    R"({"type":"function_call","call_id":"c","name":"f","arguments":"{}"},)"
    R"({"type":"function_call_output","call_id":"c","output":"ok"}],"instructions":"be brief",)"
    R"("tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],)"
    R"("text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object"}}},)"
    R"("max_output_tokens":9})",
    R"({"input":["a",[1,2,3]],"encoding_format":"base64","pooling":"last","dimensions":64})",
};

void check(const api::ApiGeneration& call) {
  for (const auto& r : call.requests) {
    if (!validate(r.sampling, kVocab)) std::abort();  // the decoder let a bad value through
    for (int32_t t : r.prompt_tokens) {
      if (t < 0 || t >= kVocab) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("TROUPE_FUZZ_SEED_DIR");
  if (!dir || !std::filesystem::is_empty(dir)) return 0;
  int n = 0;
  for (const char* seed : kSeeds) {
    std::ofstream(std::filesystem::path(dir) / ("seed-" + std::to_string(n++))) << seed;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  api::ApiLimits limits;
  limits.max_model_len = 64;
  limits.vocab_size = kVocab;
  limits.embedding_dim = 64;
  api::ApiGeneration call;
  if (!api::decode_chat_request(bytes, limits, call)) check(call);
  if (!api::decode_completion_request(bytes, limits, call)) check(call);
  api::ResponsesCall responses;
  if (!api::decode_responses_request(bytes, limits, responses)) check(responses.generation);
  api::EmbeddingsCall embeddings;
  if (!api::decode_embeddings_request(bytes, limits, embeddings)) check(embeddings.generation);
  api::TgiGeneration tgi;
  if (!api::decode_tgi_request(bytes, limits, tgi) && !validate(tgi.request.sampling, kVocab)) {
    std::abort();
  }
  http::SseReader reader;
  size_t events = 0;
  reader.feed(bytes.substr(0, size / 2), [&](std::string_view) { ++events; });
  reader.feed(bytes.substr(size / 2), [&](std::string_view) { ++events; });
  if (events > size) std::abort();
  (void)http::parse_url(bytes);
  return 0;
}
