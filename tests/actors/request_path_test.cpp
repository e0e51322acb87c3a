// Requests through request -> scheduler -> worker actors on the default model, against the
// engine library run directly.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "engine/tokenizer/unicode.hpp"
#include "tests/support/actor_node.hpp"
#include "tests/support/actor_probe.hpp"

using namespace troupe;

TEST_CASE("64 concurrent requests through the actors get the engine's own greedy tokens") {
  const Model& model = test::shared_default_model();
  const auto reqs = test::greedy_requests(model.tokenizer, 64);

  test::ActorNode node;
  auto engine = Engine::create(model, node.config(), node.end_of_generation(), on_cpu(2));
  REQUIRE(engine.ok());
  const test::EngineOutputs expected = test::run_engine(**engine, reqs);

  node.start_worker();
  for (const auto& r : reqs) node.request(test::as_generate_request(r), node.probe_handle());
  test::Received got;
  test::receive_until(
      node.probe(), got, [&] { return got.ends.size() == reqs.size(); },
      [](const GenerationChunk& c) { CHECK(c.index == 0); });

  for (const auto& r : reqs) {
    INFO(r.id);
    const GenerationEnd& e = got.ends.at(r.id);
    CHECK(e.error.empty());
    CHECK(e.prompt_tokens == static_cast<int>(r.prompt.size()));
    CHECK(e.completion_tokens == r.params.max_tokens);
    CHECK(got.tokens[r.id] == expected.at(r.id)[0]);
    // Streamed text is the decoded tokens with ill-formed UTF-8 (a character cut off by the
    // last token) as U+FFFD.
    std::string decoded;
    unicode::append_sanitized(decoded, model.tokenizer.decode(got.tokens[r.id], true));
    CHECK(got.text[r.id] == decoded);
  }
}

TEST_CASE("cancelling half of the requests mid-generation returns the KV pool to full") {
  const Model& model = test::shared_default_model();
  auto reqs = test::greedy_requests(model.tokenizer, 32);
  for (auto& r : reqs) r.params.max_tokens = 60;  // long enough to be cut off

  test::ActorNode node;
  node.start_worker();
  // Odd requests talk to a forwarder that the test kills at their first chunk: a client that
  // went away. Their request actors must abort at the scheduler.
  std::map<std::string, caf::actor> clients;
  for (size_t i = 0; i < reqs.size(); ++i) {
    caf::actor client = node.probe_handle();
    if (i % 2) {
      client = node.system().spawn(test::forwarder, node.probe_handle());
      clients[reqs[i].id] = client;
    }
    node.request(test::as_generate_request(reqs[i]), client);
  }
  test::Received got;
  std::set<std::string> cancelled;
  test::receive_until(
      node.probe(), got, [&] { return got.ends.size() == reqs.size() / 2; },
      [&](const GenerationChunk& c) {
        auto it = clients.find(c.request_id);
        if (it != clients.end() && cancelled.insert(c.request_id).second) {
          caf::anon_send_exit(it->second, caf::exit_reason::user_shutdown);
        }
      });
  CHECK(cancelled.size() == reqs.size() / 2);
  for (const auto& [id, end] : got.ends) {
    INFO(id);
    CHECK(end.error.empty());
    CHECK(end.completion_tokens == 60);
    CHECK_FALSE(clients.count(id));
  }
  // The scheduler reports after every step and abort: wait for the report of an idle pool.
  auto idle = [&] {
    if (got.stats.empty()) return false;
    const auto& s = got.stats.back();
    return s.running == 0 && s.waiting == 0 && s.kv_blocks_used == 0;
  };
  test::receive_until(node.probe(), got, idle);
  CHECK(got.stats.back().kv_blocks_free == node.kv_blocks());
  // The cancelled requests stopped well short of their 60 tokens.
  for (const auto& id : cancelled) CHECK(got.tokens[id].size() < 60);
}

TEST_CASE(
    "past --max-waiting a request is refused as overloaded, and past its deadline it times out") {
  const Model& model = test::shared_default_model();
  auto reqs = test::greedy_requests(model.tokenizer, 6);
  for (auto& r : reqs) r.params.max_tokens = 40;
  EngineConfig config = test::small_engine_config();
  config.scheduler.max_num_seqs = 1;  // one runs; the others wait
  test::ActorNode node(config, /*max_waiting=*/2);
  node.start_worker();
  for (const auto& r : reqs) node.request(test::as_generate_request(r), node.probe_handle());
  test::Received got;
  test::receive_until(node.probe(), got, [&] { return got.ends.size() == reqs.size(); });
  int overloaded = 0, completed = 0;
  for (const auto& [id, end] : got.ends) {
    if (end.error == request_error::kOverloaded) {
      ++overloaded;
      CHECK(end.completion_tokens == 0);
      CHECK(end.message == "the waiting queue is full (2 requests): retry later");
    } else {
      CHECK(end.error.empty());
      ++completed;
    }
  }
  CHECK(completed == 3);  // one running, two waiting
  CHECK(overloaded == 3);

  GenerateRequest slow = test::as_generate_request(reqs[0]);
  slow.id = "slow";
  slow.sampling.max_tokens = 400;
  slow.timeout_ms = 200;
  node.request(slow, node.probe_handle());
  test::receive_until(node.probe(), got, [&] { return got.ends.count("slow") > 0; });
  CHECK(got.ends.at("slow").error == request_error::kTimeout);
  CHECK(got.ends.at("slow").completion_tokens < 400);
  // The deadline aborted it at the scheduler: the pool empties.
  auto idle = [&] {
    const auto& s = got.stats.back();
    return s.running == 0 && s.waiting == 0 && s.kv_blocks_used == 0;
  };
  test::receive_until(node.probe(), got, idle);
}

TEST_CASE("a finished request's actor is freed within seconds, not at its deadline") {
  const Model& model = test::shared_default_model();
  auto reqs = test::greedy_requests(model.tokenizer, 1);
  reqs[0].params.max_tokens = 4;
  test::ActorNode node;
  node.start_worker();
  GenerateRequest request = test::as_generate_request(reqs[0]);
  request.timeout_ms = 600000;  // the default deadline: the actor must not live until it
  const auto weak =
      caf::actor_cast<caf::weak_actor_ptr>(node.request(request, node.probe_handle()));
  test::Received got;
  test::receive_until(node.probe(), got, [&] { return got.ends.size() == 1; });
  CHECK(got.ends.begin()->second.error.empty());
  // Its last look at the deadline comes at most 2 s after it ended; then nothing holds it, and no
  // monitor it set is left on the actors that outlive it (the scheduler, its client): the only
  // weak reference its block still counts is this test's (the strong ones count as one more).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (weak->weak_refs.load() > 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, up to a deadline
  }
  CHECK_FALSE(weak.lock());
  CHECK(weak->weak_refs.load() == 1);
}

TEST_CASE("n = 2: a sample that meets a stop string stops in the engine, the other goes on") {
  const Model& model = test::shared_default_model();
  GenerateRequest request = test::as_generate_request(test::greedy_requests(model.tokenizer, 1)[0]);
  request.sampling.n = 2;
  request.sampling.temperature = 1.0f;
  request.sampling.seed = 11;
  request.sampling.max_tokens = 48;
  request.sampling.ignore_eos = true;
  // Runs `r` on a fresh node: each sample's text and finish reason, and the engine's tokens.
  struct Run {
    std::map<int, std::string> text, finish;
    GenerationEnd end;
    int64_t computed_tokens = 0;
  };
  const auto run = [](const GenerateRequest& r) {
    Run out;
    test::ActorNode node;
    node.start_worker();
    node.request(r, node.probe_handle());
    test::Received got;
    test::receive_until(
        node.probe(), got, [&] { return got.ends.count(r.id) > 0; },
        [&](const GenerationChunk& c) {
          out.text[c.index] += c.text;
          if (!c.finish_reason.empty()) out.finish[c.index] = c.finish_reason;
        });
    out.end = got.ends.at(r.id);
    auto idle = [&] {
      if (got.stats.empty()) return false;
      const auto& s = got.stats.back();
      return s.running == 0 && s.waiting == 0 && s.kv_blocks_used == 0;
    };
    test::receive_until(node.probe(), got, idle);
    out.computed_tokens = got.stats.back().computed_tokens;
    return out;
  };

  request.id = "free";
  const Run free = run(request);
  REQUIRE(free.finish.at(0) == "length");
  // Every token but each sample's last went through the model; the prompt once.
  CHECK(free.computed_tokens == free.end.prompt_tokens + 2 * (48 - 1));
  // A stop string early in sample 0's text that sample 1's text never has.
  std::string stop;
  for (size_t at = 0; at + 4 <= free.text.at(0).size() / 3 && stop.empty(); ++at) {
    const std::string candidate = free.text.at(0).substr(at, 4);
    if (free.text.at(1).find(candidate) == std::string::npos) stop = candidate;
  }
  REQUIRE_FALSE(stop.empty());

  request.id = "stopped";
  request.sampling.stop = {stop};
  const Run stopped = run(request);
  const std::string& text0 = free.text.at(0);
  CHECK(stopped.text.at(0) == text0.substr(0, text0.find(stop)));
  CHECK(stopped.finish.at(0) == "stop");
  // Sample 1 is the same as without the stop string, to its last token.
  CHECK(stopped.text.at(1) == free.text.at(1));
  CHECK(stopped.finish.at(1) == "length");
  // Sample 0 stopped in the engine too: it did not generate on to its 48 tokens.
  INFO("stop " << stop);
  CHECK(stopped.computed_tokens < free.computed_tokens - 8);
}
