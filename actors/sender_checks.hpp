#pragma once
// Who sent the message an actor is handling: the router is published on the cluster port, so any
// process that completes the port's handshake (with the cluster secret, or on loopback without
// one) can send it anything. What is only this process's to ask (routes and the nodes' handles,
// drain, undrain, the cluster's status) is refused when it came from elsewhere.
#include <caf/actor_addr.hpp>
#include <caf/local_actor.hpp>
#include <caf/node_id.hpp>

namespace troupe {

// Whether the current message came from an actor of `node`'s process. An anonymous message
// does not: nothing says where it came from.
inline bool sent_from_node_of(caf::local_actor* self, const caf::node_id& node) {
  const caf::strong_actor_ptr& sender = self->current_sender();
  return sender && sender->node() == node;
}

// Whether the current message came from an actor of this process.
inline bool sent_from_this_process(caf::local_actor* self) {
  return sent_from_node_of(self, self->node());
}

}  // namespace troupe
