#include "actors/messages.hpp"

#include <caf/all.hpp>

namespace troupe {

void configure_actor_system(caf::actor_system_config& config) {
  config.set("work-stealing.aggressive-poll-attempts", 0);
  config.set("work-stealing.moderate-poll-attempts", 0);
  config.add_message_type<SubmitReply>("troupe.SubmitReply")
      .add_message_type<RequestFailure>("troupe.RequestFailure")
      .add_message_type<StepPlan>("troupe.StepPlan")
      .add_message_type<StepResult>("troupe.StepResult")
      .add_message_type<GenerateRequest>("troupe.GenerateRequest")
      .add_message_type<GenerationChunk>("troupe.GenerationChunk")
      .add_message_type<GenerationEnd>("troupe.GenerationEnd")
      .add_message_type<wire::EngineRequest>("troupe.EngineRequest")
      .add_message_type<wire::TokenDelta>("troupe.TokenDelta")
      .add_message_type<wire::ReplicaStats>("troupe.ReplicaStats")
      .add_message_type<WorkerStatus>("troupe.WorkerStatus")
      .add_message_type<HealthReport>("troupe.HealthReport")
      .add_message_type<wire::JoinRequest>("troupe.JoinRequest")
      .add_message_type<wire::JoinReply>("troupe.JoinReply")
      .add_message_type<wire::NodeStatus>("troupe.NodeStatus")
      .add_message_type<wire::ServedRequests>("troupe.ServedRequests")
      .add_message_type<wire::ClusterStatus>("troupe.ClusterStatus")
      .add_message_type<wire::AutoscalerStatus>("troupe.AutoscalerStatus");
}

}  // namespace troupe
