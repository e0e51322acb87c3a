#include <catch2/catch.hpp>

#include "engine/model/model.hpp"
#include "engine/serve/prompt_builder.hpp"
#include "engine/serve/request_output.hpp"
#include "tests/support/default_model.hpp"

using namespace troupe;

namespace {

const Model& model() {
  static const Model m = [] {
    auto loaded = load_model(test::default_model_path());
    REQUIRE(loaded.ok());
    return std::move(*loaded);
  }();
  return m;
}

SampledToken token(int32_t id) {
  return SampledToken{id, -0.5f, {}};
}

// Feeds `ids` to sample 0, the last with `last_finish`; returns the concatenated text.
std::string stream(RequestOutput& out, const std::vector<int32_t>& ids, FinishReason last_finish,
                   std::string* finish_reason = nullptr) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto chunk = out.add(0, token(ids[i]), i + 1 == ids.size() ? last_finish : FinishReason::none);
    if (!chunk) break;
    text += chunk->text;
    if (finish_reason && !chunk->finish_reason.empty()) *finish_reason = chunk->finish_reason;
  }
  return text;
}

}  // namespace

TEST_CASE("request output streams exactly the decoded text, ending on length") {
  const Tokenizer& tok = model().tokenizer;
  const std::string text = "Caf\xc3\xa9 au lait, 你好 🙂 and more.";
  const auto ids = tok.encode(text, false, false);
  SamplingParams params;
  RequestOutput out(tok, "r1", params, 7);
  std::string reason;
  CHECK(stream(out, ids, FinishReason::length, &reason) == text);
  CHECK(reason == "length");
  CHECK(out.finished());
  CHECK_FALSE(out.engine_busy());
  const GenerationEnd end = out.end();
  CHECK(end.request_id == "r1");
  CHECK(end.prompt_tokens == 7);
  CHECK(end.completion_tokens == static_cast<int>(ids.size()));
}

TEST_CASE(
    "a stop string ends the sample before it, even across tokens, and later tokens are ignored") {
  const Tokenizer& tok = model().tokenizer;
  const auto ids = tok.encode("The answer is Paris. The end.", false, false);
  SamplingParams params;
  params.stop = {"Paris."};
  RequestOutput out(tok, "r2", params, 3);
  std::string reason;
  CHECK(stream(out, ids, FinishReason::none, &reason) == "The answer is ");
  CHECK(reason == "stop");
  CHECK(out.finished());
  CHECK(out.engine_busy());  // the engine never finished it: the caller must abort
  CHECK_FALSE(out.add(0, token(ids[0]), FinishReason::none).has_value());
}

TEST_CASE("an end-of-generation token adds no text, and n samples end one by one") {
  const Tokenizer& tok = model().tokenizer;
  SamplingParams params;
  params.n = 2;
  params.logprobs = 1;
  RequestOutput out(tok, "r3", params, 1);
  const auto hi = tok.encode("Hi", false, false);
  auto a = out.add(0, token(hi[0]), FinishReason::none);
  REQUIRE(a);
  CHECK(a->tokens[0].logprob == -0.5f);
  auto b = out.add(0, token(tok.eos()), FinishReason::stop);
  REQUIRE(b);
  CHECK(b->finish_reason == "stop");
  CHECK(a->text + b->text == "Hi");
  CHECK_FALSE(out.finished());
  auto c = out.add(1, token(hi[0]), FinishReason::length);
  REQUIRE(c);
  CHECK(c->index == 1);
  CHECK(c->text == "Hi");
  CHECK(c->finish_reason == "length");
  CHECK(out.finished());
  CHECK(out.end().completion_tokens == 3);
}

TEST_CASE("the prompt builder takes exactly one of messages, text or tokens") {
  auto builder = PromptBuilder::create(model());
  REQUIRE(builder.ok());
  GenerateRequest r;
  CHECK_FALSE(builder->tokens(r).ok());
  r.prompt = "Hello";
  auto text = builder->tokens(r);
  REQUIRE(text.ok());
  CHECK(*text == model().tokenizer.encode("Hello", true, true));
  r.messages = {{"user", "Hello"}};
  CHECK(builder->tokens(r).message() ==
        "give exactly one of messages, a prompt, or prompt token ids");
  r.prompt.clear();
  auto chat = builder->tokens(r);
  REQUIRE(chat.ok());
  const std::string rendered = model().tokenizer.decode(*chat);
  CHECK(rendered.find("<|im_start|>user\nHello<|im_end|>") != std::string::npos);
  CHECK(rendered.find("<|im_start|>assistant\n") != std::string::npos);
}
