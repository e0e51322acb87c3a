#pragma once
// The Kubernetes actuator: replicas are the pods of a StatefulSet, named <statefulset>-<ordinal>
// (each pod's node name). It reads and patches the StatefulSet's `scale` subresource through the
// API server, with optimistic concurrency (the patch carries the resourceVersion it read; a 409
// is read again and retried). Scaling down removes the highest ordinals, as the StatefulSet
// does; the autoscaler drains them through the router first, and the pods drain on their own
// SIGTERM. It refuses to act while a HorizontalPodAutoscaler targets the same StatefulSet: one
// owner of the replica count.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autoscale/actuators/actuator.hpp"
#include "autoscale/actuators/kubernetes_target.hpp"

namespace troupe::autoscale {

struct KubernetesActuatorSetup {
  KubernetesTarget target;
};

class KubernetesActuator final : public Actuator {
 public:
  explicit KubernetesActuator(KubernetesActuatorSetup setup);

  // The StatefulSet's scale can be read and no HPA owns it: for a clear error at startup.
  Status check();

  std::string mode() const override { return "kubernetes"; }
  // Every pod of the StatefulSet's spec that is not ready: the StatefulSet brings it (back),
  // whether it has not joined yet or is being replaced (an eviction, a rolling update), so
  // the policy does not ask for another on top.
  std::vector<TimePoint> starting(const std::vector<std::string>& ready,
                                  const std::vector<std::string>& draining, TimePoint now) override;
  Result<std::vector<std::string>> scale(const Decision& decision,
                                         const std::vector<std::string>& ready,
                                         TimePoint now) override;

 private:
  struct Scale {
    int32_t replicas = 0;
    std::string resource_version;
  };
  Result<Scale> read_scale();
  // Changes the spec by `change` from what it is when patched (read again after a 409, so
  // another writer's change stands): the spec's count before and after.
  Result<std::pair<int32_t, int32_t>> change_replicas(int32_t change, Scale scale);
  Status refuse_if_an_hpa_owns_it();
  // An error naming the HPA among `items` (an HPA list's) that scales this StatefulSet.
  Status hpa_owning_it(const nlohmann::json& items) const;
  std::string pod_name(int32_t ordinal) const;

  KubernetesActuatorSetup setup_;
  std::optional<int32_t> spec_replicas_;        // as last read or written
  std::map<int32_t, TimePoint> missing_since_;  // ordinals not joined yet
};

}  // namespace troupe::autoscale
