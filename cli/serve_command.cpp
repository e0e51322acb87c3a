// troupe serve: the OpenAI-compatible HTTP server over the actor runtime. Loads the model,
// starts the node (health monitor, replica supervisor, scheduler, worker), the front and the
// Beast server; SIGTERM or ctrl-c drains in-flight requests, then exits.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "actors/model_replica.hpp"
#include "actors/process_runtime.hpp"
#include "actors/termination.hpp"
#include "autoscale/actuators/kubernetes_actuator.hpp"
#include "autoscale/actuators/local_actuator.hpp"
#include "cli/autoscale_options.hpp"
#include "cli/cluster_options.hpp"
#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/model_loading.hpp"
#include "cli/model_store.hpp"
#include "cli/settings.hpp"
#include "engine/serve/byte_size.hpp"
#include "net/api/gateway.hpp"
#include "net/api/probe_routes.hpp"
#include "net/http/handler_switch.hpp"

namespace troupe::cli {
namespace {

CommandSpec serve_spec() {
  CommandSpec spec{
      "serve",
      "troupe serve [flags]",
      "Serves the model over HTTP: OpenAI's /v1/chat/completions, /v1/completions and\n"
      "/v1/models, vLLM's /tokenize and /detokenize, TGI's /generate, /generate_stream and\n"
      "/info, and /health and /metrics. SIGTERM or ctrl-c drains: requests in flight finish,\n"
      "new ones get 503, then the server exits: 0 when all finished, 1 when --drain-timeout\n"
      "cut some off (the log says how many), 130 on a second signal; 2 for bad flags.",
      {
          model_flag(),
          chat_template_flag(),
          {"served-model-name", "NAME", "the model's name in the API (default: the file's name)"},
          {"host", "ADDR", "address to listen on (default 0.0.0.0)"},
          {"port", "N", "port to listen on, 0 for any free one (default 8000)"},
          {"http-threads", "N", "threads for HTTP connections (default 1)"},
          {"api-key", "KEY", "require 'Authorization: Bearer KEY' (repeatable)", true},
          {"admin-api-key", "KEY", "a key for the API and the admin routes (repeatable)", true},
          {"api-keys-file", "FILE", "YAML map of API keys to {name, rpm, tpm, role}"},
          {"protect-metrics", "", "require an API key for /metrics too"},
          {"usage-db", "FILE", "SQLite usage ledger (default $TROUPE_HOME/usage.db)"},
          {"allowed-origins", "ORIGIN", "allow CORS from ORIGIN, '*' for any (repeatable)", true},
          {"log-format", "FMT", "request log lines: text or json (default text)"},
          {"max-body-bytes", "BYTES", "largest request body, e.g. 1MiB (default 1MiB)"},
          {"max-send-buffer", "BYTES",
           "answer bytes a connection may leave unread before its request is aborted (default "
           "1MiB)"},
          {"max-connections", "N", "most open connections (default 1024)"},
          {"header-timeout", "S", "seconds for a request to arrive in full (default 10)"},
          {"idle-timeout", "S",
           "seconds a kept-alive connection may idle, or a client take none of its answer (default "
           "60)"},
          {"request-timeout", "S", "seconds a generation may take (default 600)"},
      }};
  for (auto& f : front_cluster_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : autoscale_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : node_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : engine_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : config_flags()) spec.flags.push_back(std::move(f));
  return spec;
}

std::string served_name(const Flags& flags, const std::string& path) {
  if (auto name = flags.get("served-model-name")) return *name;
  return std::filesystem::path(path).stem().string();
}

struct ServeOptions {
  http::ServerConfig http;
  api::GatewayConfig gateway;
  std::chrono::milliseconds request_timeout{600000};
  std::string usage_db;
};

Result<ServeOptions> serve_options(const Flags& flags) {
  ServeOptions o;
  o.http.host = flags.get("host").value_or("0.0.0.0");
  auto port = ranged_int(flags, "port", 8000, 0, 65535);
  auto http_threads = ranged_int(flags, "http-threads", 1, 1, 64);
  auto connections = ranged_int(flags, "max-connections", 1024, 1, 1 << 20);
  for (const auto* r : {&port, &http_threads, &connections}) {
    if (!*r) return r->error();
  }
  o.http.port = static_cast<uint16_t>(*port);
  o.http.threads = static_cast<int>(*http_threads);
  o.http.max_connections = static_cast<int>(*connections);
  for (auto [name, target] : {std::pair{"max-body-bytes", &o.http.max_body_bytes},
                              std::pair{"max-send-buffer", &o.http.max_unsent_bytes}}) {
    auto bytes = flags.get(name);
    if (!bytes) continue;
    auto parsed = parse_byte_size(*bytes);
    if (!parsed) return make_error(std::string("flag --") + name + ": " + parsed.message());
    if (*parsed < 1) return make_error(std::string("flag --") + name + " must be at least 1 byte");
    *target = static_cast<size_t>(*parsed);
  }
  auto header = seconds_flag(flags, "header-timeout", 10);
  auto idle = seconds_flag(flags, "idle-timeout", 60);
  auto request = seconds_flag(flags, "request-timeout", 600);
  for (const auto* r : {&header, &idle, &request}) {
    if (!*r) return r->error();
  }
  o.http.request_timeout = *header;
  o.http.idle_timeout = *idle;
  o.request_timeout = *request;
  const std::string log_format = flags.get("log-format").value_or("text");
  if (log_format != "text" && log_format != "json") {
    return make_error("flag --log-format must be text or json, got '" + log_format + "'");
  }
  o.gateway.log_json = log_format == "json";
  o.gateway.allowed_origins = flags.get_all("allowed-origins");
  o.gateway.protect_metrics = flags.has("protect-metrics");
  o.usage_db = flags.get("usage-db").value_or(troupe_home() + "/usage.db");
  return o;
}

}  // namespace

int serve_command(const Args& args) {
  block_termination_signals();  // before any thread starts: signals are taken by sigwait
  Flags flags;
  if (auto done = parse_settings(serve_spec(), args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error(flags,
                       "serve takes no positional arguments, got '" + flags.positional()[0] + "'");
  }
  auto options = serve_options(flags);
  if (!options) return input_error(flags, options.message());
  auto keys =
      auth::ApiKeys::create(flags.get_all("api-key"), flags.get("api-keys-file").value_or(""),
                            flags.get_all("admin-api-key"));
  if (!keys) return input_error(flags, keys.message());
  if (options->gateway.protect_metrics && !keys->enabled()) {
    return input_error(flags,
                       "flag --protect-metrics needs API keys (--api-key, --admin-api-key or "
                       "--api-keys-file): without them /metrics has no key to ask for");
  }
  auto engine = engine_config_from_flags(flags);
  if (!engine) return input_error(flags, engine.message());
  auto cluster_options = front_cluster_options(flags);
  if (!cluster_options) return input_error(flags, cluster_options.message());
  auto node_opts = node_options(flags, "front");
  if (!node_opts) return input_error(flags, node_opts.message());
  auto autoscaling = autoscale_options(flags);
  if (!autoscaling) return input_error(flags, autoscaling.message());
  if (*autoscaling && !cluster_options->port)
    return input_error(flags,
                       "--autoscale adds replicas that join this front: give --cluster-port");
  std::shared_ptr<autoscale::KubernetesActuator> kubernetes;
  if (*autoscaling && (*autoscaling)->mode == "kubernetes") {
    const AutoscaleOptions& a = **autoscaling;
    auto target = a.kubeconfig.empty()
                      ? autoscale::in_cluster_target(a.statefulset, a.namespace_name)
                      : autoscale::kubeconfig_target(a.kubeconfig, a.statefulset, a.namespace_name);
    if (!target) return input_error(flags, target.message());
    kubernetes = std::make_shared<autoscale::KubernetesActuator>(
        autoscale::KubernetesActuatorSetup{std::move(*target)});
    if (auto checked = kubernetes->check(); !checked && !a.advisory)
      return input_error(flags, checked.message());
  }
  // While the model loads, the HTTP port already answers the probes: /live 200, /health 503
  // "loading" (net/api/probe_routes), every other path 503 with Retry-After; the same server
  // then switches to the API's gateway. (Nothing printed: a bad model must stay a one-line
  // error.)
  api::ProbeRoutes loading_probes(
      {[](auto done) { done(api::loading_report()); }, [] { return false; }},
      api::ProbeRoutes::OtherPaths::loading);
  http::HandlerSwitch routes(loading_probes, loading_probes);
  auto server = http::Server::start(options->http, routes, routes);
  if (!server) return input_error(flags, server.message());
  std::optional<LoadSignalWatcher> loading(std::in_place);  // a signal now just exits
  auto path = resolve_model_path(flags.get("model").value_or(""));
  if (!path) return input_error(flags, path.message());
  auto model = load_model_for(flags, model_shard(node_opts->device));
  if (!model) return input_error(flags, model.message());
  if (auto sized = size_kv_cache(flags, *model, node_opts->device, *engine); !sized)
    return input_error(flags, sized.message());
  size_step_for_cpu(flags, node_opts->device, *engine);
  auto layout = plan_engine_layout(*engine, model->config, node_opts->device.tensor_parallel_size);
  if (!layout) return input_error(flags, layout.message());
  report_kv_cache(*layout, node_opts->device);
  loading.reset();  // from here a signal drains
  auto prompts = PromptBuilder::create(*model);
  if (!prompts) return input_error(flags, prompts.message());
  std::error_code ignored;  // a directory that cannot be made is reported by the ledger's open
  std::filesystem::create_directories(std::filesystem::path(options->usage_db).parent_path(),
                                      ignored);
  auto ledger = UsageLedger::open(options->usage_db);
  if (!ledger) return input_error(flags, ledger.message());

  std::optional<cluster::ClusterCredentials> credentials;
  if (cluster_options->port && cluster_options->secret) {
    auto derived = cluster::ClusterCredentials::derive(*cluster_options->secret);
    if (!derived) return input_error(flags, derived.message());
    credentials.emplace(std::move(*derived));
  }
  ProcessRuntime runtime(
      {cluster_options->port.has_value(), credentials ? &*credentials : nullptr});
  NodeSetup setup;
  if (cluster_options->local_replica) {
    ReplicaSetup replica = model_replica(*model, *layout, node_opts->device);
    replica.scheduler.max_waiting = node_opts->max_waiting;
    setup.replicas.push_back(std::move(replica));
  }
  setup.drain_timeout = node_opts->drain_timeout;
  runtime.start_node(std::move(setup));
  // The router, with this process's node as the cluster's first member; replica nodes join it
  // on the cluster port.
  const std::string identity = model_identity(*model);
  std::optional<wire::JoinRequest> local;
  if (cluster_options->local_replica) {
    local = wire::JoinRequest{wire::kClusterProtocol, node_opts->name, identity, node_opts->weight,
                              layout->config.scheduler.max_num_seqs};
  }
  if (auto joined = runtime.start_router(
          RouterSetup{cluster_options->routing, identity, cluster_options->unhealthy_after}, local);
      !joined) {
    return input_error(flags, "the local node could not join the router: " + joined.message());
  }
  uint16_t cluster_port = 0;
  if (cluster_options->port) {
    auto port = runtime.publish_router(cluster_options->host, *cluster_options->port);
    if (!port) return input_error(flags, port.message());
    cluster_port = *port;
    std::fprintf(stderr,
                 "troupe: cluster port %s:%u (routing %s, %s); join with troupe worker --join\n",
                 cluster_options->host.c_str(), *port,
                 std::string(cluster::routing_name(cluster_options->routing)).c_str(),
                 credentials ? "mutual TLS: nodes need the same --cluster-secret-file"
                             : "loopback only: no --cluster-secret-file, so nodes on other hosts "
                               "cannot join");
  }
  auto context = std::make_shared<RequestContext>(RequestContext{
      &*model, std::move(*prompts), options->request_timeout, layout->config.max_model_len});
  api::GenerationService& front = runtime.start_front(context, cluster_options->local_replica);

  const std::string name = served_name(flags, *path);
  options->gateway.model_name = name;
  options->gateway.created = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  options->gateway.limits.max_model_len = layout->config.max_model_len;
  options->gateway.limits.vocab_size = static_cast<int>(model->tokenizer.vocab_size());
  options->gateway.limits.embedding_dim = model->config.embedding_dim;
  options->gateway.limits.tool_syntax = api::tool_syntax_of(model->chat_template);
  // Shared: the autoscaler reads its latency histograms from its own thread.
  auto metrics = std::make_shared<metrics::ServingMetrics>(name);
  if (*autoscaling) {
    const AutoscaleOptions& a = **autoscaling;
    std::shared_ptr<autoscale::Actuator> actuator = kubernetes;
    if (!actuator) {
      const std::string host =
          cluster_options->host == "0.0.0.0" ? "127.0.0.1" : cluster_options->host;
      actuator = std::make_shared<autoscale::LocalActuator>(autoscale::LocalActuatorSetup{
          "/proc/self/exe",
          local_worker_args(flags, *path, host + ":" + std::to_string(cluster_port)),
          node_opts->name + "-auto", node_opts->drain_timeout + std::chrono::seconds(5)});
    }
    runtime.start_autoscaler(
        AutoscalerSetup{a.policy, a.advisory, a.tick, std::move(actuator),
                        [metrics] { return metrics->service_level_counts(); }});
    std::fprintf(stderr, "troupe: autoscaling %s between %d and %d replicas%s\n", a.mode.c_str(),
                 a.policy.min_replicas, a.policy.max_replicas,
                 a.advisory ? " (advisory: decisions are reported, not acted on)" : "");
  }
  auth::RateLimiter limiter;
  UsageWriter usage(**ledger);  // after the gateway is gone, writes what is left
  api::GatewayParts parts{&front, &model->tokenizer, &*keys, &limiter, &usage, metrics.get()};
  api::Gateway gateway(options->gateway, parts);
  routes.switch_to(gateway, gateway);
  std::fprintf(stderr, "troupe: tool calls in the %s form\n",
               api::tool_syntax_name(options->gateway.limits.tool_syntax));
  std::fprintf(stderr, "troupe: serving %s on http://%s:%u (%s); SIGTERM or ctrl-c drains\n",
               name.c_str(), options->http.host.c_str(), (*server)->port(),
               keys->enabled() ? "API keys required" : "no API key required");
  std::chrono::steady_clock::time_point signalled;
  const int status = runtime.drain_on_termination_signal(&signalled);
  const int code =
      runtime.shut_down_front(status, signalled + node_opts->drain_timeout, gateway, **server);
  // The connections still open go with the server, and tell the gateway as they go: before the
  // gateway (and what it records into) is gone.
  server->reset();
  return code;
}

}  // namespace troupe::cli
