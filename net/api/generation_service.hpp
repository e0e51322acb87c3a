#pragma once
// The seam between the HTTP side and the actors (DESIGN.md: "the HTTP server hands each decoded
// request to a small handler interface and receives chunks through a sink"). net/ calls a
// GenerationService; actors/front implements it with messages; a listener hears the result.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/serve/generate_request.hpp"
#include "net/wire/messages.hpp"

namespace troupe::api {

// Hears one request's chunks and then exactly one end, on any thread, one call at a time.
class GenerationListener {
 public:
  virtual ~GenerationListener() = default;
  virtual void on_chunk(GenerationChunk chunk) = 0;
  virtual void on_end(GenerationEnd end) = 0;
};

// What undraining a node came to.
enum class UndrainResult : int32_t {
  undrained,  // routed again (it was drained, or never was)
  unknown,    // no connected node has that name
  leaving,    // a remote node told to drain: its process is finishing its work and exiting
};

class GenerationService {
 public:
  virtual ~GenerationService() = default;
  // Starts a request. Returns a function that cancels it (the client went away): the request
  // is aborted where it runs, and the listener hears nothing more.
  virtual std::function<void()> submit(GenerateRequest request,
                                       std::shared_ptr<GenerationListener> listener) = 0;
  // The node's latest health, for /health and /metrics; cheap (a cached copy).
  virtual wire::HealthReport health() const = 0;
  // The same, asked of the node now (a round trip to its actors): /metrics's gauges must not
  // lag the requests a scrape just saw. `done` hears it on any thread; the cached report when
  // the node does not answer in time.
  virtual void health_now(std::function<void(wire::HealthReport)> done) { done(health()); }
  // The cluster's nodes as the router last saw them, for /metrics; cheap (a cached copy).
  virtual wire::ClusterStatus cluster() const { return {}; }
  // The same, asked of the router now, for GET /cluster: an admin who drained a node and asks
  // again must see the drain, not a copy up to a poll old. `done` hears it on any thread; the
  // cached copy when the router does not answer in time.
  virtual void cluster_now(std::function<void(wire::ClusterStatus)> done) { done(cluster()); }
  // Drains the cluster node `name` (no new requests; its work finishes; a remote node then
  // leaves, the front's own node stays out of routing until undrained). `done` hears, on any
  // thread, whether such a node is connected.
  virtual void drain_node(const std::string& name, std::function<void(bool known)> done) {
    done(false);
  }
  // Takes back a drain: the node `name` is routed again. A remote node, once told to drain, is
  // already leaving and cannot be taken back (start it again and it rejoins).
  virtual void undrain_node(const std::string& name, std::function<void(UndrainResult)> done) {
    done(UndrainResult::unknown);
  }
  // These never block the caller: an HTTP thread must not wait on the actors.
};

}  // namespace troupe::api
