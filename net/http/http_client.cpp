#include "net/http/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <stdexcept>

#include "net/http/resolve_within.hpp"

namespace troupe::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return make_error("URL '" + std::string(url) + "' must start with http://");
  }
  url.remove_prefix(kScheme.size());
  Url out;
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(url.substr(slash));
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    out.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  out.host = std::string(authority);
  if (out.host.empty()) return make_error("URL 'http://" + std::string(url) + "' has no host");
  return out;
}

namespace {

// Runs one asynchronous operation to its end and gives its error. The tcp_stream's expiry (the
// timeout) applies to asynchronous operations only: the blocking ones waited forever on a server
// that accepted and never answered.
template <typename Start>
beast::error_code complete(boost::asio::io_context& io, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// Throws a failed step's error, named as the blocking calls named theirs ("connect: ...").
void throw_if(beast::error_code ec, const char* step) {
  if (ec) throw beast::system_error(ec, step);
}

}  // namespace

struct Connection::State {
  boost::asio::io_context io;
  beast::tcp_stream stream{io};
  bool open = false;
};

Connection::Connection(Url base, std::chrono::seconds timeout)
    : base_(std::move(base)), timeout_(timeout), state_(std::make_unique<State>()) {}

Connection::~Connection() {
  beast::error_code ignored;
  if (state_->open)
    state_->stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
}

Result<ClientResponse> Connection::fetch(const std::string& method, const std::string& path,
                                         const Headers& headers, const std::string& body,
                                         const BodyCallback& on_body) {
  const std::string where = "http://" + base_.host + ":" + base_.port + base_.path + path;
  bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), base_.path + path, 11};
  request.set(bhttp::field::host, base_.host);
  request.set(bhttp::field::user_agent, "troupe");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  // A kept-alive connection the server has since closed fails before any answer: retry once on
  // a fresh one.
  for (int attempt = 0;; ++attempt) {
    const bool reused = state_->open;
    bool answered = false;
    try {
      auto& stream = state_->stream;
      auto& io = state_->io;
      stream.expires_after(timeout_);  // the whole exchange, the name lookup's time included
      if (!state_->open) {
        auto addresses = resolve_within(system_lookup(base_.host, base_.port), timeout_);
        if (!addresses) throw std::runtime_error(addresses.message());
        throw_if(complete(io, [&](auto done) { stream.async_connect(*addresses, done); }),
                 "connect");
        stream.socket().set_option(boost::asio::ip::tcp::no_delay(true));
        state_->open = true;
      }
      throw_if(complete(io, [&](auto done) { bhttp::async_write(stream, request, done); }),
               "write");
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::buffer_body> parser;
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      throw_if(
          complete(io, [&](auto done) { bhttp::async_read_header(stream, buffer, parser, done); }),
          "read");
      answered = true;
      ClientResponse response;
      response.status = static_cast<int>(parser.get().result_int());
      char piece[16384];
      while (!parser.is_done()) {
        parser.get().body().data = piece;
        parser.get().body().size = sizeof piece;
        // What has arrived, not a full piece.
        const beast::error_code ec =
            complete(io, [&](auto done) { bhttp::async_read_some(stream, buffer, parser, done); });
        if (ec != bhttp::error::need_buffer) throw_if(ec, "read");
        const std::string_view got(piece, sizeof piece - parser.get().body().size);
        if (got.empty()) continue;
        if (on_body) {
          on_body(got);
        } else {
          response.body.append(got);
        }
      }
      if (!parser.get().keep_alive()) {
        beast::error_code ignored;
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        stream.close();
        state_->open = false;
      }
      return response;
    } catch (const std::exception& e) {
      state_->stream.close();
      state_->open = false;
      if (reused && !answered && attempt == 0) continue;
      return make_error(method + " " + where + " failed: " + e.what());
    }
  }
}

Result<ClientResponse> fetch(const Url& base, const std::string& method, const std::string& path,
                             const Headers& headers, const std::string& body,
                             const BodyCallback& on_body, std::chrono::seconds timeout) {
  Connection connection(base, timeout);
  return connection.fetch(method, path, headers, body, on_body);
}

}  // namespace troupe::http
