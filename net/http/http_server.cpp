#include "net/http/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <vector>

#include "net/http/session.hpp"

namespace troupe::http {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Impl {
  ServerConfig config;
  Handler& handler;
  const TransportEvents& events;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::shared_ptr<SessionCounts> counts = std::make_shared<SessionCounts>();
  std::vector<std::thread> threads;
  bool stopped = false;

  Impl(const ServerConfig& c, Handler& h, const TransportEvents& e)
      : config(c), handler(h), events(e), io(std::max(1, c.threads)) {}

  void accept() {
    acceptor.async_accept(
        asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted) return;  // stopping
          if (!ec) {
            const bool full = counts->open.load() >= config.max_connections;
            auto session =
                std::make_shared<Session>(std::move(socket), config, handler, events, counts);
            if (full) {
              session->refuse(503, "the server has reached --max-connections (" +
                                       std::to_string(config.max_connections) + ")");
            } else {
              session->start();
            }
          }
          accept();
        });
  }
};

Result<std::unique_ptr<Server>> Server::start(const ServerConfig& config, Handler& handler,
                                              const TransportEvents& events) {
  auto impl = std::make_unique<Impl>(config, handler, events);
  const std::string where = config.host + ":" + std::to_string(config.port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec)
    return make_error("cannot listen on " + where + ": '" + config.host + "' is not an IP address");
  const tcp::endpoint endpoint{address, config.port};
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("cannot listen on " + where + ": " + ec.message());
  impl->accept();
  for (int i = 0; i < std::max(1, config.threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Server::stop(std::chrono::milliseconds grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // Answers already handed to sessions go out in full, unless that takes longer than `grace`.
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->counts->answering.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->io.stop();
  for (auto& thread : impl_->threads) thread.join();
}

}  // namespace troupe::http
