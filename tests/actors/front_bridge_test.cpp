// The front's bridge, which stands for one HTTP client across the cluster, against stand-in
// nodes: a router that hands out nodes in turn and schedulers that answer as a test needs. The
// request actors are real ones on the default model's tokenizer.
#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "actors/front.hpp"
#include "actors/messages.hpp"
#include "tests/support/actor_node.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

// The listener the gateway would be: what reached the client, and the end, waited on.
class RecordingListener final : public api::GenerationListener {
 public:
  void on_chunk(GenerationChunk chunk) override {
    std::lock_guard lock(mutex_);
    tokens_ += static_cast<int>(chunk.tokens.size());
    changed_.notify_all();
  }
  void on_end(GenerationEnd end) override {
    std::lock_guard lock(mutex_);
    end_ = std::move(end);
    changed_.notify_all();
  }
  // Waits (at most a minute: a failure, not a synchronisation) until `tokens` have arrived.
  bool wait_tokens(int tokens) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return tokens_ >= tokens; });
  }
  std::optional<GenerationEnd> wait_end() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 60s, [&] { return end_.has_value(); });
    return end_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int tokens_ = 0;
  std::optional<GenerationEnd> end_;
};

// How a stand-in scheduler answers a submission.
enum class Answer {
  kill_the_request,  // the request actor ends without an answer (as if it threw)
  three_tokens,      // three tokens, then silence (its node is about to be lost)
  two_and_finish,    // two tokens, the second the last
};

caf::behavior stand_in_scheduler(caf::event_based_actor* self, Answer answer) {
  return {
      [self, answer](submit_atom, wire::EngineRequest& r) -> SubmitReply {
        auto client = caf::actor_cast<caf::actor>(self->current_sender());
        if (answer == Answer::kill_the_request) {
          self->send_exit(client, caf::exit_reason::kill);
        } else {
          const int count = answer == Answer::three_tokens ? 3 : 2;
          for (int i = 0; i < count; ++i) {
            const bool last = answer == Answer::two_and_finish && i == count - 1;
            // Tokens of plain words; sent after this answer, from the mailbox.
            self->send(self,
                       wire::TokenDelta{r.request_id,
                                        0,
                                        SampledToken{330 + i, 0.0f, {}},
                                        last ? FinishReason::length : FinishReason::none,
                                        i == 0 ? 0.0 : -1.0,
                                        {}},
                       client);
          }
        }
        return {true, "", ""};
      },
      [self](wire::TokenDelta& delta, caf::actor& client) { self->send(client, delta); },
      [](abort_atom, const std::string&) {},
  };
}

// A node that serves one stand-in scheduler (and the front's health polls).
caf::behavior stand_in_node(caf::event_based_actor* self, caf::actor scheduler) {
  return {
      [scheduler](scheduler_atom) { return scheduler; },
      [](health_atom) { return wire::HealthReport{}; },
      [](subscribe_atom) { return wire::HealthReport{}; },
  };
}

// A router that hands out the nodes in turn, and remembers the last bridge that asked.
struct RouterState {
  std::vector<caf::actor> nodes;
  size_t next = 0;
  caf::actor last_bridge;
};
caf::behavior stand_in_router(caf::stateful_actor<RouterState>* self,
                              std::vector<caf::actor> nodes) {
  self->state.nodes = std::move(nodes);
  return {
      [self](route_atom, uint64_t,
             const std::vector<std::string>&) -> caf::result<std::string, caf::actor> {
        auto& s = self->state;
        s.last_bridge = caf::actor_cast<caf::actor>(self->current_sender());
        if (s.next == s.nodes.size()) return caf::sec::request_timeout;
        const size_t i = s.next++;
        return {"n" + std::to_string(i + 1), s.nodes[i]};
      },
      [](release_atom, const std::string&, const caf::actor_addr&, const wire::ServedRequests&) {},
      [](status_atom) { return wire::ClusterStatus{}; },
      [self](caf::get_atom) { return self->state.last_bridge; },
  };
}

struct Cluster {
  test::ActorSystemConfig config;
  caf::actor_system system{config};
  std::shared_ptr<RequestContext> context;
  caf::actor router;
  std::unique_ptr<Front> front;

  explicit Cluster(std::vector<Answer> answers) {
    const Model& model = test::shared_default_model();
    auto prompts = PromptBuilder::create(model);
    REQUIRE(prompts.ok());
    context = std::make_shared<RequestContext>(RequestContext{&model, std::move(*prompts)});
    std::vector<caf::actor> nodes;
    for (Answer a : answers)
      nodes.push_back(system.spawn(stand_in_node, system.spawn(stand_in_scheduler, a)));
    router = system.spawn(stand_in_router, nodes);
    front = std::make_unique<Front>(system, nodes.front(), router, context, false);
  }
  ~Cluster() {
    front->stop();
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  }

  std::shared_ptr<RecordingListener> submit() {
    GenerateRequest request;
    request.id = "bridged";
    request.prompt = "Hello there";
    request.sampling.max_tokens = 16;
    auto listener = std::make_shared<RecordingListener>();
    front->submit(request, listener);
    return listener;
  }

  caf::actor bridge() {
    caf::scoped_actor self(system);
    caf::actor bridge;
    self->request(router, 10s, caf::get_atom::value)
        .receive([&](caf::actor& b) { bridge = b; }, [](caf::error&) {});
    return bridge;
  }
};

}  // namespace

TEST_CASE("a bridge whose request actor ends without an answer starts it on another node") {
  Cluster cluster({Answer::kill_the_request, Answer::two_and_finish});
  auto listener = cluster.submit();
  // Before the bridge watched its request actor, the client waited here forever.
  auto end = listener->wait_end();
  REQUIRE(end);
  CHECK(end->error.empty());
  CHECK(end->completion_tokens == 2);
}

TEST_CASE("an end the bridge makes up for a node lost mid-stream bills what reached the client") {
  Cluster cluster({Answer::three_tokens});
  auto listener = cluster.submit();
  REQUIRE(listener->wait_tokens(3));
  // The router lost the node: after the stream's grace the bridge ends the request itself.
  caf::anon_send(cluster.bridge(), unreachable_atom::value, std::string("n1"));
  auto end = listener->wait_end();
  REQUIRE(end);
  CHECK(end->error == request_error::kUnavailable);
  CHECK(end->completion_tokens == 3);
  const int prompt = static_cast<int>(
      test::shared_default_model().tokenizer.encode("Hello there", true, false).size());
  CHECK(end->prompt_tokens == prompt);
}
