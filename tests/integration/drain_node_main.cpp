// A node on the default model for the signal test: submits N greedy requests, prints
// "generating" at the first chunk, drains on SIGTERM/SIGINT, then prints how the requests ended.
// Usage: drain_node MODEL N MAX_TOKENS DRAIN_TIMEOUT_MS
#include <caf/all.hpp>
#include <iostream>
#include <string>

#include "actors/model_replica.hpp"
#include "actors/node.hpp"
#include "actors/request.hpp"
#include "actors/termination.hpp"

using namespace troupe;

namespace {

struct Client {
  int expected = 0, ok = 0, draining = 0, other = 0;
  bool generating = false;
  caf::response_promise done;
  bool waiting = false;
  static inline const char* name = "client";
};

caf::behavior client(caf::stateful_actor<Client>* self, int expected) {
  self->state.expected = expected;
  auto finished = [self] {
    auto& s = self->state;
    if (s.waiting && s.ok + s.draining + s.other == s.expected) s.done.deliver(drain_atom::value);
  };
  return {
      [self](GenerationChunk&) {
        if (!self->state.generating) std::cout << "generating" << std::endl;
        self->state.generating = true;
      },
      [self, finished](GenerationEnd& e) {
        auto& s = self->state;
        if (e.error.empty()) {
          ++s.ok;
        } else if (e.error == request_error::kDraining) {
          ++s.draining;
        } else {
          ++s.other;
          std::cout << "request " << e.request_id << " failed: " << e.error << std::endl;
        }
        finished();
      },
      // Answers once every request has ended.
      [self, finished](drain_atom) -> caf::result<drain_atom> {
        self->state.done = self->make_response_promise();
        self->state.waiting = true;
        auto promise = self->state.done;
        finished();
        return promise;
      },
      [self](caf::get_atom) -> caf::result<void> {
        auto& s = self->state;
        std::cout << "ended " << s.ok + s.draining + s.other << ": ok " << s.ok << ", draining "
                  << s.draining << ", failed " << s.other << std::endl;
        return caf::unit;
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  block_termination_signals();
  if (argc != 5) {
    std::cerr << "usage: drain_node MODEL N MAX_TOKENS DRAIN_TIMEOUT_MS\n";
    return 2;
  }
  auto model = load_model(argv[1]);
  if (!model) {
    std::cerr << model.message() << "\n";
    return 2;
  }
  int requests = 0, max_tokens = 0, drain_ms = 0;
  try {
    requests = std::stoi(argv[2]), max_tokens = std::stoi(argv[3]), drain_ms = std::stoi(argv[4]);
  } catch (const std::exception&) {
    std::cerr << "drain_node: N, MAX_TOKENS and DRAIN_TIMEOUT_MS must be integers\n";
    return 2;
  }
  EngineConfig engine;
  engine.max_model_len = 2048;
  engine.kv_cache_memory = int64_t{256} << 20;
  auto layout = plan_engine_layout(engine, model->config);
  if (!layout) return 2;

  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  NodeSetup setup;
  const Model* m = &*model;
  setup.replicas.push_back(model_replica(*model, *layout, DeviceOptions{}));
  setup.drain_timeout = std::chrono::milliseconds(drain_ms);
  const caf::actor node = spawn_node(system, std::move(setup));

  auto prompts = PromptBuilder::create(*model);
  auto context = std::make_shared<RequestContext>(RequestContext{m, std::move(*prompts)});
  const caf::actor sink = system.spawn(client, requests);
  caf::scoped_actor self{system};
  caf::actor scheduler;
  self->request(node, caf::infinite, scheduler_atom::value)
      .receive([&](caf::actor& s) { scheduler = s; }, [](caf::error&) {});
  for (int i = 0; i < requests; ++i) {
    GenerateRequest r;
    r.id = "r" + std::to_string(i);
    r.prompt = "Count from one to one thousand: one, two, three,";
    r.sampling.temperature = 0;
    r.sampling.max_tokens = max_tokens;
    r.sampling.ignore_eos = true;
    spawn_request(system, context, std::move(r), scheduler, sink);
  }
  std::unique_ptr<DrainSignalWatcher> watcher;
  const int status = drain_on_termination_signal(system, node, watcher);
  if (status == 0) {
    self->request(sink, caf::infinite, drain_atom::value)
        .receive([](drain_atom) {}, [](caf::error&) {});
  }
  // The sink prints its line before this thread prints its own: two threads writing std::cout at
  // once interleave their lines.
  self->request(sink, caf::infinite, caf::get_atom::value).receive([] {}, [](caf::error&) {});
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  std::cout << "exit " << status << std::endl;
  return status;
}
