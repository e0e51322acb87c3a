#pragma once
// A Handler and TransportEvents that pass everything to a target which can be replaced while the
// server runs. `troupe serve` answers the probes while its model loads, then switches to its
// gateway on the same listening socket: closing one server and binding another would leave the
// port, for a moment, to whatever took it in between (a child process mid-spawn that still
// holds a copy of the socket, or any connection given that ephemeral port).
#include <atomic>
#include <memory>

#include "net/http/http_server.hpp"

namespace troupe::http {

class HandlerSwitch final : public Handler, public TransportEvents {
 public:
  // Both targets must outlive the switch's server.
  HandlerSwitch(Handler& handler, const TransportEvents& events)
      : target_(new Target{handler, events}) {}
  ~HandlerSwitch() override { delete target_.load(); }
  HandlerSwitch(const HandlerSwitch&) = delete;
  HandlerSwitch& operator=(const HandlerSwitch&) = delete;

  // Requests from now on go to the new target (one already handed to the old one stays there).
  // Once only: the old target's record is kept until the switch is destroyed, since a server
  // thread may be reading it.
  void switch_to(Handler& handler, const TransportEvents& events) {
    retired_.reset(target_.exchange(new Target{handler, events}));
  }

  void handle(Request request, std::shared_ptr<ResponseSink> sink) override {
    target_.load()->handler.handle(std::move(request), std::move(sink));
  }
  Response transport_error(int status, const std::string& message) const override {
    return target_.load()->events.transport_error(status, message);
  }
  void connections_changed(int open) const override {
    target_.load()->events.connections_changed(open);
  }

 private:
  struct Target {
    Handler& handler;
    const TransportEvents& events;
  };
  std::atomic<Target*> target_;
  std::unique_ptr<Target> retired_;
};

}  // namespace troupe::http
