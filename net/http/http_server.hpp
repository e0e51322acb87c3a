#pragma once
// The HTTP/1.1 server: Beast sessions on their own Asio threads, one per connection, every
// operation async (Beast's advanced server example is the model). Each complete request goes to
// a Handler, which answers through a ResponseSink from any thread. Keep-alive, chunked
// streaming, a closed connection reported to the handler, and the transport's limits: body size
// (413), a request that does not arrive in time (408), too many connections (503).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/result.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::http {

struct ServerConfig {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;  // 0 picks a free port (see Server::port)
  int threads = 1;       // Asio threads; the work behind requests runs elsewhere
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Bytes of an answer queued for a client that does not read them: beyond this the request is
  // aborted and the connection closed, so a stalled streaming client cannot pile tokens up in
  // the server's memory. Each socket's kernel send buffer is set to it too.
  std::size_t max_unsent_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds request_timeout{10000};  // from a request's first byte to its last
  std::chrono::milliseconds idle_timeout{60000};     // a kept-alive connection with no request
  int max_connections = 1024;
};

// What the handler hears of the transport itself: it words the server's own errors (bad HTTP,
// 408, 413, 431, 501, the connection limit's 503) in the API's error shape, and may count them
// and the connections open. Called on the server's threads.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  virtual Response transport_error(int status, const std::string& message) const = 0;
  virtual void connections_changed(int open) const {}
};

class Server {
 public:
  // Binds and starts serving; the error names the address when it cannot bind. `handler` and
  // `events` must outlive the server.
  static Result<std::unique_ptr<Server>> start(const ServerConfig& config, Handler& handler,
                                               const TransportEvents& events);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // Closes the listener, lets answers in progress finish for up to `grace`, then closes every
  // connection and joins the threads. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::http
