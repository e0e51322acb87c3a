#pragma once
// A one-replica actor setup on the default model for the actor tests: a real actor system, a
// worker over a ModelRunner, a scheduler, and request actors spawned on demand. The engine's
// direct results are the reference the actor path is compared with.
#include <caf/all.hpp>
#include <memory>

#include "actors/health_monitor.hpp"
#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "actors/request.hpp"
#include "actors/scheduler.hpp"
#include "actors/supervisor.hpp"
#include "actors/worker.hpp"
#include "engine/model/model.hpp"
#include "engine/serve/engine.hpp"
#include "tests/support/default_model.hpp"

namespace troupe::test {

// The default model loaded once for the whole test binary (read-only after loading).
inline const Model& shared_default_model() {
  static const Model model = [] {
    auto loaded = load_model(default_model_path());
    REQUIRE(loaded.ok());
    return std::move(*loaded);
  }();
  return model;
}

inline EngineConfig small_engine_config() {
  EngineConfig c;
  c.max_model_len = 512;
  c.kv_cache_memory = int64_t{4096} * 2 * 30 * 192 * 2;  // 4096 tokens of K and V, F16
  return c;
}

struct ActorSystemConfig : caf::actor_system_config {
  ActorSystemConfig() {
    configure_actor_system(*this);
    set("scheduler.max-threads", 2);  // the machine's two cores
  }
};

class ActorNode {
 public:
  // The probe, a scoped actor of the test's thread, receives the scheduler's statistics and is
  // the usual client of the requests.
  explicit ActorNode(EngineConfig config = small_engine_config(), int max_waiting = 1024)
      : model_(shared_default_model()), config_(std::move(config)), probe_(system_) {
    auto layout = plan_engine_layout(config_, model_.config);
    REQUIRE(layout.ok());
    kv_blocks_ = layout->kv_blocks;
    auto prompts = PromptBuilder::create(model_);
    REQUIRE(prompts.ok());
    context_ = std::make_shared<RequestContext>(RequestContext{&model_, std::move(*prompts)});
    scheduler_setup_.make_planner = [this] {
      auto planner = StepPlanner::create(model_.config, config_, end_of_generation());
      REQUIRE(planner.ok());
      return std::move(*planner);
    };
    scheduler_setup_.max_waiting = max_waiting;
    scheduler_setup_.heartbeat = std::chrono::hours(1);  // reports come from steps and aborts
  }

  ~ActorNode() {
    for (const caf::actor& a : {node_, scheduler_, worker_, supervisor_, health_}) {
      if (a) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
  }

  caf::actor_system& system() { return system_; }
  const Model& model() const { return model_; }
  const EngineConfig& config() const { return config_; }
  int kv_blocks() const { return kv_blocks_; }
  caf::actor scheduler() const { return scheduler_; }
  caf::scoped_actor& probe() { return probe_; }
  caf::actor probe_handle() { return caf::actor_cast<caf::actor>(probe_); }
  caf::actor health() const { return health_; }

  // A scheduler reporting to the probe, and a worker over a fresh ModelRunner (with its own
  // thread pool) handed to it.
  void start_worker() {
    SchedulerSetup setup = scheduler_setup_;
    setup.stats_subscriber = caf::actor_cast<caf::actor>(probe_);
    scheduler_ = spawn_scheduler(system_, std::move(setup));
    worker_ = spawn_worker(system_, worker_setup({}));
    // From an actor of this process: a scheduler takes its worker from nobody else.
    probe_->send(scheduler_, worker_atom::value, worker_);
  }

  // A scheduler reporting to the probe with `worker` (a test's stand-in) handed to it.
  void start_scheduler_with(caf::actor worker) {
    SchedulerSetup setup = scheduler_setup_;
    setup.stats_subscriber = caf::actor_cast<caf::actor>(probe_);
    scheduler_ = spawn_scheduler(system_, std::move(setup));
    probe_->send(scheduler_, worker_atom::value, worker);
  }

  // A health monitor, and a replica supervisor over scheduler and worker; the probe subscribes
  // to the health monitor (its first HealthReport is waiting in the probe's mailbox).
  void start_supervised(std::function<void(const StepPlan&)> before_step) {
    health_ = spawn_health_monitor(system_);
    ReplicaSetup setup;
    setup.worker = worker_setup(std::move(before_step));
    setup.scheduler = scheduler_setup_;
    setup.health = health_;
    setup.first_backoff = std::chrono::milliseconds(10);
    supervisor_ = spawn_replica_supervisor(system_, std::move(setup));
    probe_->send(health_, subscribe_atom::value);
    probe_->request(supervisor_, caf::infinite, scheduler_atom::value)
        .receive([&](caf::actor& scheduler) { scheduler_ = scheduler; },
                 [&](caf::error& e) { FAIL("no scheduler: " << system_.render(e)); });
  }

  // A whole node (health monitor, one supervised replica) whose scheduler the requests use.
  caf::actor start_node(std::chrono::milliseconds drain_timeout) {
    NodeSetup setup;
    ReplicaSetup replica;
    replica.worker = worker_setup({});
    replica.scheduler = scheduler_setup_;
    setup.replicas.push_back(std::move(replica));
    setup.drain_timeout = drain_timeout;
    node_ = spawn_node(system_, std::move(setup));
    probe_->request(node_, caf::infinite, scheduler_atom::value)
        .receive([&](caf::actor& scheduler) { scheduler_ = scheduler; },
                 [&](caf::error& e) { FAIL("no scheduler: " << system_.render(e)); });
    return node_;
  }

  WorkerSetup worker_setup(std::function<void(const StepPlan&)> before_step) {
    WorkerSetup setup;
    setup.make_runner = runner_factory(model_, on_cpu(2), KvShape{kv_blocks_, config_.block_size});
    setup.before_step = std::move(before_step);
    return setup;
  }

  caf::actor request(GenerateRequest request, caf::actor client) {
    return spawn_request(system_, context_, std::move(request), scheduler_, std::move(client));
  }

  Engine::EndOfGeneration end_of_generation() const {
    const Model* m = &model_;
    return [m](int32_t t) { return m->tokenizer.is_eog(t); };
  }

 private:
  const Model& model_;
  EngineConfig config_;
  int kv_blocks_ = 0;
  ActorSystemConfig caf_config_;
  caf::actor_system system_{caf_config_};
  caf::scoped_actor probe_;
  std::shared_ptr<RequestContext> context_;
  SchedulerSetup scheduler_setup_;
  caf::actor scheduler_;
  caf::actor worker_;
  caf::actor supervisor_;
  caf::actor health_;
  caf::actor node_;
};

}  // namespace troupe::test
