#include "autoscale/actuators/kubernetes_actuator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace troupe::autoscale {
namespace {

// The string at `keys` under `value`, or "" where a step is missing or of another type.
std::string string_at(const nlohmann::json& value, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = &value;
  for (const char* key : keys) {
    if (!at->is_object()) return "";
    const auto it = at->find(key);
    if (it == at->end()) return "";
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : "";
}

constexpr int kConflictRetries = 3;

// The API server's own words for a failure (its Status object's message), else the body.
std::string api_message(const http::ClientResponse& response) {
  std::string message =
      string_at(nlohmann::json::parse(response.body, nullptr, false), {"message"});
  return message.empty() ? response.body.substr(0, 200) : message;
}

}  // namespace

KubernetesActuator::KubernetesActuator(KubernetesActuatorSetup setup) : setup_(std::move(setup)) {}

std::string KubernetesActuator::pod_name(int32_t ordinal) const {
  return setup_.target.statefulset + "-" + std::to_string(ordinal);
}

Result<KubernetesActuator::Scale> KubernetesActuator::read_scale() {
  const KubernetesTarget& t = setup_.target;
  const std::string path =
      "/apis/apps/v1/namespaces/" + t.namespace_name + "/statefulsets/" + t.statefulset + "/scale";
  auto response = http::fetch_tls(
      t.server, "GET", path,
      {{"Authorization", "Bearer " + t.bearer()}, {"Accept", "application/json"}}, "", t.timeout);
  if (!response) return response.error();
  if (response->status == 403)
    return make_error("kubernetes: forbidden to read " + path +
                      " (the service account needs "
                      "get and patch on statefulsets/scale): " +
                      api_message(*response));
  if (response->status != 200)
    return make_error("kubernetes: GET " + path + " answered " + std::to_string(response->status) +
                      ": " + api_message(*response));
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  try {
    Scale scale;
    scale.replicas = body.at("spec").value("replicas", 0);
    scale.resource_version = body.at("metadata").at("resourceVersion").get<std::string>();
    spec_replicas_ = scale.replicas;
    return scale;
  } catch (const nlohmann::json::exception&) {
    return make_error("kubernetes: GET " + path + " did not answer a Scale object");
  }
}

Result<std::pair<int32_t, int32_t>> KubernetesActuator::change_replicas(int32_t change,
                                                                        Scale scale) {
  const KubernetesTarget& t = setup_.target;
  const std::string path =
      "/apis/apps/v1/namespaces/" + t.namespace_name + "/statefulsets/" + t.statefulset + "/scale";
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      auto again = read_scale();
      if (!again) return again.error();
      scale = std::move(*again);
    }
    const int32_t replicas = std::max(0, scale.replicas + change);
    if (scale.replicas == replicas) return std::make_pair(replicas, replicas);
    // A merge patch carrying the version it read: the server answers 409 if another writer
    // changed the scale since, and it is read again.
    const nlohmann::json patch = {{"metadata", {{"resourceVersion", scale.resource_version}}},
                                  {"spec", {{"replicas", replicas}}}};
    auto response = http::fetch_tls(t.server, "PATCH", path,
                                    {{"Authorization", "Bearer " + t.bearer()},
                                     {"Content-Type", "application/merge-patch+json"},
                                     {"Accept", "application/json"}},
                                    patch.dump(), t.timeout);
    if (!response) return response.error();
    if (response->status == 200 || response->status == 201) {
      spec_replicas_ = replicas;
      spdlog::info("autoscaler: kubernetes: statefulset {}/{} scaled {} -> {}", t.namespace_name,
                   t.statefulset, scale.replicas, replicas);
      return std::make_pair(scale.replicas, replicas);
    }
    if (response->status == 409 && attempt + 1 < kConflictRetries) {
      spdlog::info("autoscaler: kubernetes: the scale changed under us (409); reading it again");
      continue;
    }
    if (response->status == 403)
      return make_error("kubernetes: forbidden to patch " + path +
                        " (the service account "
                        "needs patch on statefulsets/scale): " +
                        api_message(*response));
    return make_error("kubernetes: PATCH " + path + " answered " +
                      std::to_string(response->status) + ": " + api_message(*response));
  }
}

Status KubernetesActuator::refuse_if_an_hpa_owns_it() {
  const KubernetesTarget& t = setup_.target;
  const std::string path =
      "/apis/autoscaling/v2/namespaces/" + t.namespace_name + "/horizontalpodautoscalers";
  auto response = http::fetch_tls(
      t.server, "GET", path,
      {{"Authorization", "Bearer " + t.bearer()}, {"Accept", "application/json"}}, "", t.timeout);
  if (!response) return response.error();
  if (response->status == 403 || response->status == 404) {
    // Not allowed to look (a Role limited to the scale subresource), or no autoscaling/v2.
    return Ok{};
  }
  if (response->status != 200)
    return make_error("kubernetes: GET " + path + " answered " + std::to_string(response->status) +
                      ": " + api_message(*response));
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) return Ok{};
  return hpa_owning_it(body["items"]);
}

Status KubernetesActuator::hpa_owning_it(const nlohmann::json& items) const {
  const KubernetesTarget& t = setup_.target;
  // An item of another shape names nothing; the items after it are still read.
  for (const auto& hpa : items) {
    if (string_at(hpa, {"spec", "scaleTargetRef", "kind"}) == "StatefulSet" &&
        string_at(hpa, {"spec", "scaleTargetRef", "name"}) == t.statefulset) {
      std::string name = string_at(hpa, {"metadata", "name"});
      if (name.empty()) name = "?";
      return make_error("kubernetes: the HorizontalPodAutoscaler '" + name +
                        "' scales statefulset " + t.statefulset +
                        "; one owner only: delete it, or run troupe's autoscaler with "
                        "--autoscale-advisory");
    }
  }
  return Ok{};
}

Status KubernetesActuator::check() {
  auto scale = read_scale();
  if (!scale) return scale.error();
  return refuse_if_an_hpa_owns_it();
}

std::vector<TimePoint> KubernetesActuator::starting(const std::vector<std::string>& ready,
                                                    const std::vector<std::string>&,
                                                    TimePoint now) {
  if (auto scale = read_scale(); !scale)
    spdlog::warn("autoscaler: {}", scale.message());  // the last known count stands
  std::vector<TimePoint> on_the_way;
  const int32_t replicas = spec_replicas_.value_or(0);
  std::erase_if(missing_since_, [&](const auto& entry) { return entry.first >= replicas; });
  for (int32_t ordinal = 0; ordinal < replicas; ++ordinal) {
    const std::string name = pod_name(ordinal);
    if (std::find(ready.begin(), ready.end(), name) != ready.end()) {
      missing_since_.erase(ordinal);
      continue;
    }
    on_the_way.push_back(missing_since_.emplace(ordinal, now).first->second);
  }
  return on_the_way;
}

Result<std::vector<std::string>> KubernetesActuator::scale(const Decision& decision,
                                                           const std::vector<std::string>& ready,
                                                           TimePoint now) {
  if (Status owned = refuse_if_an_hpa_owns_it(); !owned) return owned.error();
  auto scale = read_scale();
  if (!scale) return scale.error();
  // The change the policy asked for, applied to the StatefulSet as it is: the policy counts
  // ready and starting replicas, which need not match the spec (the front's own replica, a
  // worker joined by hand). A stuck pod stays in the spec and counts here: the pod asked for in
  // its place would be the same StatefulSet's next, stuck the same way (no GPU to schedule it
  // on), and behind it besides, and the spec grew by one every ready_timeout.
  const int32_t change = decision.desired - decision.current - decision.stuck;
  auto changed = change_replicas(change, std::move(*scale));
  if (!changed) return changed.error();
  const auto [before, replicas] = *changed;
  // The pods the StatefulSet removes: the highest ordinals. Those still routable are drained.
  std::vector<std::string> leaving;
  for (int32_t ordinal = before - 1; ordinal >= replicas; --ordinal) {
    const std::string name = pod_name(ordinal);
    if (std::find(ready.begin(), ready.end(), name) != ready.end()) leaving.push_back(name);
  }
  for (int32_t ordinal = before; ordinal < replicas; ++ordinal) missing_since_[ordinal] = now;
  return leaving;
}

}  // namespace troupe::autoscale
