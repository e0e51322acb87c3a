#pragma once
// What the HTTP server hands to the rest of troupe, free of Beast: a decoded request, the sink a
// handler answers through, and the handler interface itself. A sink may be used from any thread;
// it posts the work onto its connection's strand.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace troupe::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // the target without its query string
  std::string query;                           // after '?', undecoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // the peer's address

  // The header's value, or empty when absent. `name` must be lower-case.
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

// A handler answers exactly once: either respond(), or start_stream() + write()* + finish().
// After the client has gone, calls do nothing.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void respond(Response response) = 0;
  // Sends the head of a chunked response (Server-Sent Events when content_type says so).
  virtual void start_stream(int status, std::string content_type, Headers headers) = 0;
  // One chunk of the body, flushed to the socket as soon as the ones before it are written.
  virtual void write(std::string data) = 0;
  virtual void finish() = 0;
  // Called once, on some thread, if the client goes away before the answer is complete. Set it
  // before the work it cancels can finish; a connection that is already gone calls it at once.
  virtual void on_disconnect(std::function<void()> callback) = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs on a server thread: must not block (hand long work to someone else and answer later).
  virtual void handle(Request request, std::shared_ptr<ResponseSink> sink) = 0;
};

}  // namespace troupe::http
