#include <catch2/catch.hpp>

#include "net/api/openai_request.hpp"
#include "net/api/responses_request.hpp"
#include "net/api/tgi_request.hpp"

using namespace troupe;
using namespace troupe::api;

namespace {

ApiLimits limits() {
  ApiLimits l;
  l.max_model_len = 512;
  l.vocab_size = 1000;
  return l;
}

}  // namespace

TEST_CASE("a chat request decodes into one engine request with OpenAI's defaults") {
  ApiGeneration call;
  REQUIRE_FALSE(decode_chat_request(
      R"({"model":"m","messages":[{"role":"developer","content":"be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],)"
      R"("stop":"END","n":2,"logprobs":true,"top_logprobs":3,"seed":-1})",
      limits(), call));
  REQUIRE(call.requests.size() == 1);
  const auto& r = call.requests[0];
  CHECK(r.messages == std::vector<ChatTurn>{{"system", "be brief"}, {"user", "a\nb"}});
  CHECK(r.sampling.max_tokens == 512);  // absent: up to the end of the context
  CHECK(r.sampling.stop == std::vector<std::string>{"END"});
  CHECK(r.sampling.n == 2);
  CHECK(r.sampling.logprobs == 3);
  CHECK(r.sampling.seed == std::numeric_limits<uint64_t>::max());
  CHECK(call.model == "m");
  CHECK(call.logprobs);
  CHECK(call.top_logprobs == 3);
}

TEST_CASE("completions take one engine request per prompt, text or token ids") {
  ApiGeneration call;
  REQUIRE_FALSE(
      decode_completion_request(R"({"prompt":["a",[1,2],"c"],"logprobs":0})", limits(), call));
  REQUIRE(call.requests.size() == 3);
  CHECK(call.requests[0].prompt == "a");
  CHECK(call.requests[1].prompt_tokens == std::vector<int32_t>{1, 2});
  CHECK(call.requests[2].prompt == "c");
  CHECK(call.logprobs);  // logprobs 0: the sampled token's log-probability, no alternatives
  CHECK(call.requests[0].sampling.logprobs == 1);
  REQUIRE_FALSE(decode_completion_request(R"({"prompt":[5,6]})", limits(), call));
  REQUIRE(call.requests.size() == 1);
  CHECK(call.requests[0].prompt_tokens == std::vector<int32_t>{5, 6});
}

TEST_CASE("every rejection names its parameter") {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case chat_cases[] = {
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":1e400})", ""},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":512})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":0})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":""})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"1000":1}})", "logit_bias"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop_token_ids":[-1]})", "stop_token_ids"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream_options":{}})", "stream_options"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content"},
      {R"({"messages":[]})", "messages"},
      {R"([1,2])", ""},
  };
  // Stop lists past their bounds (each string is searched for at every token of every sample).
  std::string many_stops = R"({"messages":[{"role":"user","content":"x"}],"stop":[)";
  for (size_t i = 0; i <= kMostStopStrings; ++i)
    many_stops += (i ? ",\"s" : "\"s") + std::string("\"");
  many_stops += "]}";
  const std::string long_stop = R"({"messages":[{"role":"user","content":"x"}],"stop":")" +
                                std::string(kMostStopStringBytes + 1, 'a') + "\"}";
  std::string many_ids = R"({"messages":[{"role":"user","content":"x"}],"stop_token_ids":[)";
  for (size_t i = 0; i <= kMostStopTokenIds; ++i) many_ids += i ? ",1" : "1";
  many_ids += "]}";
  for (const std::string& body : {many_stops, long_stop, many_ids}) {
    ApiGeneration call;
    auto error = decode_chat_request(body, limits(), call);
    INFO(body.substr(0, 120));
    REQUIRE(error);
    CHECK(error->status == 400);
    CHECK(error->param == (body == many_ids ? "stop_token_ids" : "stop"));
    CHECK(error->message.find("at most") != std::string::npos);
  }
  for (const auto& c : chat_cases) {
    ApiGeneration call;
    auto error = decode_chat_request(c.body, limits(), call);
    INFO(c.body);
    REQUIRE(error);
    CHECK(error->status == 400);
    CHECK(error->param == c.param);
    CHECK_FALSE(error->message.empty());
  }
  ApiGeneration call;
  auto outside = decode_completion_request(R"({"prompt":[1,1000]})", limits(), call);
  REQUIRE(outside);
  CHECK(outside->param == "prompt");
  auto echo = decode_completion_request(R"({"prompt":"x","echo":true})", limits(), call);
  REQUIRE(echo);
  CHECK(echo->param == "echo");
}

TEST_CASE("fields of the wrong JSON type get a 400, not an exception") {
  // Each of these once threw out of the decoder (nlohmann's value() on a number), which ended
  // the server's HTTP thread and with it the process.
  ApiGeneration call;
  auto tool_type = decode_chat_request(
      R"({"messages":[{"role":"user","content":"hi"}],"tools":[{"type":1,"function":{"name":"f"}}]})",
      limits(), call);
  REQUIRE(tool_type);
  CHECK(tool_type->status == 400);
  CHECK(tool_type->param == "tools[0]");

  // An earlier assistant turn's call with a number for its name is written out with an empty
  // name: the template shows what the client sent back, and the request goes on.
  CHECK_FALSE(decode_chat_request(
      R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,)"
      R"("tool_calls":[{"id":"c","type":"function","function":{"name":1,"arguments":"{}"}}]},)"
      R"({"role":"tool","tool_call_id":"c","content":"ok"}]})",
      limits(), call));

  ResponsesCall responses;
  auto part_type = decode_responses_request(
      R"({"input":[{"role":"user","content":[{"type":1,"text":"x"}]}]})", limits(), responses);
  REQUIRE(part_type);
  CHECK(part_type->status == 400);
  CHECK(part_type->param == "input[0].content[0]");
}

TEST_CASE("parts parsed again in key order hold objects of at most 10,000 keys") {
  // nlohmann's ordered_json finds a key by a linear scan: 80,000 keys took 5.6 s to parse.
  std::string wide = "{";
  for (int i = 0; i <= 10000; ++i) wide += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":true";
  wide += "}";
  const std::string chat = R"({"messages":[{"role":"user","content":"hi"}],)";
  const std::string object_of = R"({"type":"object","properties":)";
  // The error of a chat request with `wide` as an object schema's properties, between these.
  auto refused = [&](const std::string& before, const std::string& after) {
    ApiGeneration call;
    return decode_chat_request(chat + before + object_of + wide + after, limits(), call);
  };
  auto tools =
      refused(R"("tools":[{"type":"function","function":{"name":"f","parameters":)", "}}}]}");
  REQUIRE(tools);
  CHECK(tools->param == "tools");
  CHECK(tools->message.find("more than 10000 keys") != std::string::npos);
  auto schema = refused(
      R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":)", "}}}}");
  REQUIRE(schema);
  CHECK(schema->param == "response_format");
  // A wide object elsewhere in the body (logit_bias) is not parsed again: tools still decode.
  std::string bias = "{";
  for (int i = 0; i < 20000; ++i) bias += (i ? ",\"" : "\"") + std::to_string(i % 1000) + "\":1";
  bias += "}";
  ApiGeneration call;
  CHECK_FALSE(decode_chat_request(
      chat + R"("logit_bias":)" + bias +
          R"(,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
      limits(), call));
}

TEST_CASE("TGI requests are greedy unless asked to sample, and errors are 422") {
  TgiGeneration call;
  REQUIRE_FALSE(decode_tgi_request(R"({"inputs":"hi"})", limits(), call));
  CHECK(call.request.prompt == "hi");
  CHECK(call.request.sampling.temperature == 0);
  CHECK(call.request.sampling.max_tokens == 100);
  REQUIRE_FALSE(decode_tgi_request(
      R"({"inputs":"hi","parameters":{"do_sample":true,"max_new_tokens":7,"stop":["."]}})",
      limits(), call));
  CHECK(call.request.sampling.temperature == 1.0f);
  CHECK(call.request.sampling.max_tokens == 7);
  CHECK(call.request.sampling.stop == std::vector<std::string>{"."});
  std::string many_stops = R"({"inputs":"hi","parameters":{"stop":[)";
  for (size_t i = 0; i <= kMostStopStrings; ++i) many_stops += i ? ",\".\"" : "\".\"";
  auto stops = decode_tgi_request(many_stops + "]}}", limits(), call);
  REQUIRE(stops);
  CHECK(tgi_status(*stops) == 422);
  CHECK(stops->param == "stop");
  auto error = decode_tgi_request(R"({"inputs":"hi","parameters":{"top_p":2}})", limits(), call);
  REQUIRE(error);
  CHECK(tgi_status(*error) == 422);
  CHECK(tgi_error_json(*error).find("\"error_type\":\"validation\"") != std::string::npos);
}
