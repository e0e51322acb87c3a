// troupe worker --join HOST:PORT: a replica node of a cluster. Loads the model, starts a node
// (health monitor, replica supervisor, scheduler, worker) and joins the front's router, which
// then routes requests to this node's scheduler over CAF's network layer. SIGTERM or ctrl-c
// drains: the node stops admitting (the router sees it not ready), finishes its requests and
// exits.
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "actors/model_replica.hpp"
#include "actors/process_runtime.hpp"
#include "actors/termination.hpp"
#include "cli/cluster_options.hpp"
#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/model_loading.hpp"
#include "cli/model_store.hpp"
#include "cli/settings.hpp"
#include "net/api/probe_routes.hpp"
#include "net/http/http_server.hpp"

namespace troupe::cli {
namespace {

CommandSpec worker_spec() {
  CommandSpec spec{
      "worker",
      "troupe worker --join HOST:PORT [flags]",
      "Runs a replica node that joins the front at HOST:PORT (troupe serve --cluster-port):\n"
      "the front routes requests to it. It keeps trying to reach the front, and rejoins when\n"
      "the front restarts. SIGTERM or ctrl-c drains it and exits: 0 when its requests all\n"
      "finished, 1 when --drain-timeout cut some off, 130 on a second signal; 2 for bad flags.",
      {
          {"join", "HOST:PORT", "the front's cluster port (required)"},
          {"health-port", "N",
           "answer GET /live and /health on this port, for probes (default: none)"},
          cluster_secret_flag(),
          model_flag(),
          chat_template_flag(),
      }};
  for (auto& f : node_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : engine_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : config_flags()) spec.flags.push_back(std::move(f));
  return spec;
}

// What the probe port reads: the runtime once the node runs (none while the model loads), and
// whether the front has accepted the node.
struct ProbeState {
  std::mutex mutex;
  ProcessRuntime* runtime = nullptr;
  std::atomic<bool> joined{false};

  void set_runtime(ProcessRuntime* now) {
    std::lock_guard lock(mutex);
    runtime = now;
  }
  void node_health(std::function<void(wire::HealthReport)> done) {
    std::lock_guard lock(mutex);
    if (runtime) return runtime->node_health(std::move(done));
    done(api::loading_report());
  }
};

}  // namespace

int worker_command(const Args& args) {
  block_termination_signals();  // before any thread starts: signals are taken by sigwait
  Flags flags;
  if (auto done = parse_settings(worker_spec(), args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error(flags,
                       "worker takes no positional arguments, got '" + flags.positional()[0] + "'");
  }
  if (!flags.has("join"))
    return input_error(flags, "--join HOST:PORT is required: the front to join");
  auto front = parse_host_port(*flags.get("join"));
  if (!front) return input_error(flags, "flag --join: " + front.message());
  std::optional<long long> health_port;
  if (flags.has("health-port")) {
    auto port = ranged_int(flags, "health-port", 0, 0, 65535);
    if (!port) return input_error(flags, port.message());
    health_port = *port;
  }
  auto node_opts = node_options(flags, default_node_name());
  if (!node_opts) return input_error(flags, node_opts.message());
  // The probe port opens before the model loads: live at once, ready (200) only once the model
  // is loaded and the front has accepted this node.
  auto probe_state = std::make_shared<ProbeState>();
  api::ProbeRoutes probes({[probe_state](auto done) { probe_state->node_health(std::move(done)); },
                           [probe_state] { return probe_state->joined.load(); }});
  std::unique_ptr<http::Server> probe_server;
  if (health_port) {
    http::ServerConfig config;
    config.port = static_cast<uint16_t>(*health_port);
    config.max_body_bytes = 1024;
    auto started = http::Server::start(config, probes, probes);
    if (!started) return input_error(flags, started.message());
    probe_server = std::move(*started);
  }
  auto secret = cluster_secret(flags);
  if (!secret) return input_error(flags, secret.message());
  auto engine = engine_config_from_flags(flags);
  if (!engine) return input_error(flags, engine.message());
  std::optional<LoadSignalWatcher> loading(std::in_place);  // a signal now just exits
  auto model = load_model_for(flags, model_shard(node_opts->device));
  if (!model) return input_error(flags, model.message());
  if (auto sized = size_kv_cache(flags, *model, node_opts->device, *engine); !sized)
    return input_error(flags, sized.message());
  size_step_for_cpu(flags, node_opts->device, *engine);
  auto layout = plan_engine_layout(*engine, model->config, node_opts->device.tensor_parallel_size);
  if (!layout) return input_error(flags, layout.message());
  report_kv_cache(*layout, node_opts->device);
  loading.reset();  // from here a signal drains

  std::optional<cluster::ClusterCredentials> credentials;
  if (*secret) {
    auto derived = cluster::ClusterCredentials::derive(**secret);
    if (!derived) return input_error(flags, derived.message());
    credentials.emplace(std::move(*derived));
  }
  ProcessRuntime runtime({true, credentials ? &*credentials : nullptr});
  NodeSetup setup;
  ReplicaSetup replica = model_replica(*model, *layout, node_opts->device);
  replica.scheduler.max_waiting = node_opts->max_waiting;
  setup.replicas.push_back(std::move(replica));
  setup.drain_timeout = node_opts->drain_timeout;
  runtime.start_node(std::move(setup));

  MemberSetup member;
  member.host = front->first;
  member.port = front->second;
  member.request =
      wire::JoinRequest{wire::kClusterProtocol, node_opts->name, model_identity(*model),
                        node_opts->weight, layout->config.scheduler.max_num_seqs};
  member.on_refused = [](const std::string& reason) {
    std::fprintf(stderr, "troupe: the front refused this node: %s\n", reason.c_str());
    std::fflush(stderr);
    std::_Exit(2);
  };
  member.on_joined = [probe_state](bool now) { probe_state->joined.store(now); };
  runtime.join_cluster(std::move(member));
  probe_state->set_runtime(&runtime);
  const std::string probe_port =
      probe_server ? "; probes at http://0.0.0.0:" + std::to_string(probe_server->port()) : "";
  std::fprintf(stderr, "troupe: worker %s joining %s:%u%s; SIGTERM or ctrl-c drains\n",
               node_opts->name.c_str(), front->first.c_str(), front->second, probe_port.c_str());
  const int status = runtime.drain_on_termination_signal();
  probe_server.reset();  // before the runtime it asks goes
  probe_state->set_runtime(nullptr);
  return status;
}

}  // namespace troupe::cli
