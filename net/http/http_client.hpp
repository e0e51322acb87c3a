#pragma once
// A small blocking HTTP/1.1 client for tools and tests (the serving benchmark, later the
// Kubernetes API): the body handed over piece by piece as it arrives, so streamed responses can
// be timed; a Connection keeps its socket alive between requests, as a benchmark's client should.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::http {

struct Url {
  std::string host;
  std::string port = "80";
  std::string path;  // without a trailing '/'
};
// Parses "http://host[:port][/path]"; https is not supported.
Result<Url> parse_url(std::string_view url);

struct ClientResponse {
  int status = 0;
  std::string body;  // empty when the body went to `on_body`
};

using BodyCallback = std::function<void(std::string_view)>;

// One kept-alive connection to `base`, opened on first use and again after the server closes
// it. Not thread-safe: one per client thread.
class Connection {
 public:
  explicit Connection(Url base, std::chrono::seconds timeout = std::chrono::seconds(600));
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends the request and reads the answer. With `on_body`, each piece of the body goes there as
  // it arrives (and `body` stays empty). The error names the URL and what failed.
  Result<ClientResponse> fetch(const std::string& method, const std::string& path,
                               const Headers& headers, const std::string& body,
                               const BodyCallback& on_body = {});

 private:
  struct State;
  Url base_;
  std::chrono::seconds timeout_;
  std::unique_ptr<State> state_;
};

// One request on a connection of its own.
Result<ClientResponse> fetch(const Url& base, const std::string& method, const std::string& path,
                             const Headers& headers, const std::string& body,
                             const BodyCallback& on_body = {},
                             std::chrono::seconds timeout = std::chrono::seconds(600));

}  // namespace troupe::http
