#include "net/http/resolve_within.hpp"

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace troupe::http {

Result<Addresses> resolve_within(Lookup lookup, std::chrono::milliseconds timeout) {
  // Shared with the lookup's thread, which may outlive this call.
  struct Pending {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<Result<Addresses>> result;
  };
  const auto pending = std::make_shared<Pending>();
  std::thread([pending, lookup = std::move(lookup)] {
    Result<Addresses> result = lookup();
    const std::lock_guard lock(pending->mutex);
    pending->result = std::move(result);
    pending->done.notify_all();
  }).detach();
  std::unique_lock lock(pending->mutex);
  if (!pending->done.wait_for(lock, timeout, [&] { return pending->result.has_value(); })) {
    return make_error("no address within " + std::to_string(timeout.count()) + " ms");
  }
  return std::move(*pending->result);
}

Lookup system_lookup(std::string host, std::string port) {
  return [host = std::move(host), port = std::move(port)]() -> Result<Addresses> {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    Addresses addresses = resolver.resolve(host, port, ec);
    if (ec) return make_error(ec.message());
    return addresses;
  };
}

}  // namespace troupe::http
