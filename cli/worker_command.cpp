// troupe worker --join HOST:PORT: a replica node of a cluster. Loads the model, starts a node
// (health monitor, replica supervisor, scheduler, worker) and joins the front's router, which
// then routes requests to this node's scheduler over CAF's network layer. SIGTERM or ctrl-c
// drains: the node stops admitting (the router sees it not ready), finishes its requests and
// exits.
#include <cstdio>

#include "actors/model_replica.hpp"
#include "actors/process_runtime.hpp"
#include "actors/termination.hpp"
#include "cli/cluster_options.hpp"
#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/model_store.hpp"

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
          cluster_secret_flag(),
          model_flag(),
      }};
  for (auto& f : node_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : engine_flags()) spec.flags.push_back(std::move(f));
  return spec;
}

}  // namespace

int worker_command(const Args& args) {
  block_termination_signals();  // before any thread starts: signals are taken by sigwait
  Flags flags;
  if (auto done = parse_flags(worker_spec(), args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("worker takes no positional arguments, got '" + flags.positional()[0] + "'");
  }
  if (!flags.has("join")) return input_error("--join HOST:PORT is required: the front to join");
  auto front = parse_host_port(*flags.get("join"));
  if (!front) return input_error("flag --join: " + front.message());
  auto node_opts = node_options(flags, default_node_name());
  if (!node_opts) return input_error(node_opts.message());
  auto secret = cluster_secret(flags);
  if (!secret) return input_error(secret.message());
  auto engine = engine_config_from_flags(flags);
  if (!engine) return input_error(engine.message());
  auto path = resolve_model_path(flags.get("model").value_or(""));
  if (!path) return input_error(path.message());
  auto model = load_model(*path);
  if (!model) return input_error(model.message());
  auto layout = plan_engine_layout(*engine, model->config);
  if (!layout) return input_error(layout.message());

  std::optional<cluster::ClusterCredentials> credentials;
  if (*secret) {
    auto derived = cluster::ClusterCredentials::derive(**secret);
    if (!derived) return input_error(derived.message());
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
  runtime.join_cluster(std::move(member));
  std::fprintf(stderr, "troupe: worker %s joining %s:%u; SIGTERM or ctrl-c drains\n",
               node_opts->name.c_str(), front->first.c_str(), front->second);
  return runtime.drain_on_termination_signal();
}

}  // namespace troupe::cli
