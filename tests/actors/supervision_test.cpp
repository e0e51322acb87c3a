// Failover and graceful drain on a real actor system with the default model.
#include <atomic>
#include <catch2/catch.hpp>

#include "tests/support/actor_node.hpp"
#include "tests/support/actor_probe.hpp"

using namespace troupe;
using namespace std::chrono_literals;

TEST_CASE("a worker that throws is restarted: queued requests complete, in-flight ones fail") {
  const Model& model = test::shared_default_model();
  auto reqs = test::greedy_requests(model.tokenizer, 16);
  for (auto& r : reqs) r.params.max_tokens = 12;
  EngineConfig config = test::small_engine_config();
  config.scheduler.max_num_seqs = 4;  // 4 run, 12 wait without a token

  test::ActorNode node(config);
  auto engine = Engine::create(model, config, node.end_of_generation(), on_cpu(2));
  REQUIRE(engine.ok());
  const test::EngineOutputs expected = test::run_engine(**engine, reqs);

  // The fault-injection hook: the worker throws before its sixth step, once.
  auto steps = std::make_shared<std::atomic<int>>(0);
  node.start_supervised([steps](const StepPlan& plan) {
    if (!plan.chunks.empty() && ++*steps == 6) throw std::runtime_error("injected fault");
  });
  for (auto r : reqs) {
    GenerateRequest g = test::as_generate_request(r);
    g.timeout_ms = 100000;
    node.request(std::move(g), node.probe_handle());
  }
  test::Received got;
  test::receive_until(node.probe(), got, [&] { return got.ends.size() == reqs.size(); });

  int failed = 0, completed = 0;
  for (const auto& r : reqs) {
    INFO(r.id);
    const GenerationEnd& e = got.ends.at(r.id);
    if (e.error.empty()) {
      ++completed;
      CHECK(got.tokens[r.id] == expected.at(r.id)[0]);  // re-queued, then generated in full
    } else {
      ++failed;
      CHECK(e.error == request_error::kWorkerFailed);  // not a timeout: nothing hung
      CHECK_FALSE(got.tokens[r.id].empty());           // only requests with tokens fail
    }
  }
  CHECK(failed >= 1);
  CHECK(failed <= 4);  // at most those running when the worker died
  CHECK(completed == static_cast<int>(reqs.size()) - failed);
  // The health monitor saw the restart, and the replica is ready again.
  test::receive_until(node.probe(), got, [&] {
    return !got.health.empty() && got.health.back().restarts == 1 && got.health.back().ready;
  });
}

TEST_CASE("drain with 32 requests in flight completes all 32 and refuses new ones") {
  const Model& model = test::shared_default_model();
  auto reqs = test::greedy_requests(model.tokenizer, 32);
  for (auto& r : reqs) r.params.max_tokens = 24;

  test::ActorNode node;
  node.start_worker();
  for (const auto& r : reqs) node.request(test::as_generate_request(r), node.probe_handle());
  caf::scoped_actor drainer{node.system()};
  bool drain_sent = false;
  test::Received got;
  test::receive_until(
      node.probe(), got, [&] { return got.ends.size() == reqs.size(); },
      [&](const GenerationChunk&) {
        if (drain_sent) return;
        drain_sent = true;
        drainer->send(node.scheduler(), drain_atom::value);
        // Sent after the drain by the same actor, so it arrives after it: refused.
        drainer
            ->request(node.scheduler(), caf::infinite, submit_atom::value,
                      wire::EngineRequest{"late", reqs[0].prompt, reqs[0].params, 0})
            .receive(
                [&](SubmitReply& reply) {
                  CHECK_FALSE(reply.accepted);
                  CHECK(reply.error == request_error::kDraining);
                },
                [&](caf::error& e) { FAIL(node.system().render(e)); });
      });
  for (const auto& r : reqs) {
    INFO(r.id);
    CHECK(got.ends.at(r.id).error.empty());
    CHECK(got.ends.at(r.id).completion_tokens == 24);
  }
  // The drain answers once nothing is in flight.
  drainer->receive([](drain_atom) {}, caf::after(60s) >> [] { FAIL("the drain never completed"); });
  // A request through a request actor now ends with `draining` too.
  GenerateRequest late = test::as_generate_request(reqs[1]);
  late.id = "late-2";
  node.request(late, node.probe_handle());
  test::receive_until(node.probe(), got, [&] { return got.ends.count("late-2") > 0; });
  CHECK(got.ends.at("late-2").error == request_error::kDraining);
  CHECK(got.ends.at("late-2").completion_tokens == 0);
}

TEST_CASE("a node drains: not ready at once, and the answer says whether work finished in time") {
  const Model& model = test::shared_default_model();
  SECTION("in time") {
    auto reqs = test::greedy_requests(model.tokenizer, 8);
    test::ActorNode node;
    const caf::actor root = node.start_node(std::chrono::seconds(120));
    for (const auto& r : reqs) node.request(test::as_generate_request(r), node.probe_handle());
    node.probe()->send(root, drain_atom::value);
    test::Received got;
    bool answered = false, in_time = false;
    node.probe()->receive_while([&] { return !answered || got.ends.size() < reqs.size(); })(
        [&](drain_atom, bool finished) { answered = true, in_time = finished; },
        [&](GenerationChunk&) {}, [&](GenerationEnd& e) { got.ends[e.request_id] = e; },
        caf::after(120s) >> [] { FAIL("drain hangs"); });
    CHECK(in_time);
    for (const auto& [id, end] : got.ends) {
      INFO(id);  // admitted before the drain, or refused by it: never cut short
      CHECK((end.error.empty() || end.error == request_error::kDraining));
      if (end.error.empty()) CHECK(end.completion_tokens > 0);
    }
    node.probe()
        ->request(root, caf::infinite, health_atom::value)
        .receive(
            [](HealthReport& h) {
              CHECK_FALSE(h.ready);
              CHECK(h.draining);
              CHECK(h.reason == "draining");
            },
            [&](caf::error& e) { FAIL(node.system().render(e)); });
  }
  SECTION("past the timeout") {
    auto reqs = test::greedy_requests(model.tokenizer, 4);
    for (auto& r : reqs) r.params.max_tokens = 400;  // far longer than the drain timeout
    test::ActorNode node;
    const caf::actor root = node.start_node(std::chrono::milliseconds(300));
    for (const auto& r : reqs) node.request(test::as_generate_request(r), node.probe_handle());
    bool first_chunk = false;
    test::Received got;
    test::receive_until(
        node.probe(), got, [&] { return first_chunk; },
        [&](const GenerationChunk&) { first_chunk = true; });
    node.probe()
        ->request(root, caf::infinite, drain_atom::value)
        .receive([](drain_atom, bool finished) { CHECK_FALSE(finished); },
                 [&](caf::error& e) { FAIL(node.system().render(e)); });
    // The process would exit now; stopping the tree ends the requests with an error, promptly.
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    test::receive_until(node.probe(), got, [&] { return got.ends.size() == reqs.size(); });
    for (const auto& [id, end] : got.ends) CHECK_FALSE(end.error.empty());
  }
}

namespace {

// A worker that takes each step and never answers: a step stays in flight until the test ends
// it. It tells `watcher` (execute) when a step arrives.
struct HeldSteps {
  std::vector<caf::response_promise> held;
};
caf::behavior holding_worker(caf::stateful_actor<HeldSteps>* self, caf::actor watcher) {
  return {[self, watcher](execute_atom, const StepPlan&) -> caf::result<StepResult> {
    self->send(watcher, execute_atom::value);
    self->state.held.push_back(self->make_response_promise());
    return self->state.held.back();
  }};
}

wire::EngineRequest engine_request(const std::string& id, int max_tokens) {
  const auto r = test::greedy_requests(test::shared_default_model().tokenizer, 1)[0];
  SamplingParams sampling = r.params;
  sampling.max_tokens = max_tokens;
  return {id, r.prompt, sampling, 0};
}

void submit(caf::scoped_actor& client, const caf::actor& scheduler, wire::EngineRequest r) {
  client->request(scheduler, caf::infinite, submit_atom::value, std::move(r))
      .receive([](SubmitReply& reply) { REQUIRE(reply.accepted); },
               [](caf::error&) { FAIL("the scheduler did not answer the submission"); });
}

}  // namespace

TEST_CASE(
    "a request aborted while its first step is in flight is not started over when the "
    "worker is lost") {
  test::ActorNode node;
  auto worker = node.system().spawn(holding_worker, node.probe_handle());
  node.start_scheduler_with(worker);
  submit(node.probe(), node.scheduler(), engine_request("gone", 40));
  bool stepping = false;
  node.probe()->receive_while([&] { return !stepping; })(
      [&](execute_atom) { stepping = true; }, [](wire::ReplicaStats&) {},
      caf::after(60s) >> [] { FAIL("no step reached the worker"); });

  // The abort waits for the step; the worker dies in it (its abort is ahead in the mailbox).
  node.probe()->send(node.scheduler(), abort_atom::value, std::string("gone"));
  caf::anon_send_exit(worker, caf::exit_reason::kill);

  // Starting over from its live requests, the scheduler has none: it drains at once (it had
  // restarted the aborted request, which would have waited clientless for the next worker).
  bool drained = false;
  node.probe()
      ->request(node.scheduler(), 30s, drain_atom::value)
      .receive([&](drain_atom) { drained = true; },
               [&](caf::error& e) { FAIL("no drain: " << node.system().render(e)); });
  CHECK(drained);
}

TEST_CASE("only the actor that submitted a request can abort it, or one of its samples") {
  test::ActorNode node;
  node.start_worker();
  submit(node.probe(), node.scheduler(), engine_request("kept", 24));
  caf::scoped_actor stranger(node.system());
  stranger->send(node.scheduler(), abort_atom::value, std::string("kept"));
  stranger->send(node.scheduler(), abort_atom::value, std::string("kept"), int32_t{0});
  // Ignored: the request runs to its last token.
  int tokens = 0;
  bool finished = false;
  node.probe()->receive_while([&] { return !finished; })(
      [&](wire::TokenDelta& d) {
        ++tokens;
        finished = d.finish != FinishReason::none;
      },
      [](wire::ReplicaStats&) {},
      caf::after(60s) >> [] { FAIL("the request stopped before its last token"); });
  CHECK(tokens == 24);
}
