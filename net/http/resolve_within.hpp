#pragma once
// Name resolution with a deadline. asio's resolver cannot be abandoned: its lookup runs
// getaddrinfo on the io_context's private thread, which the context joins when it is destroyed,
// so a DNS server that does not answer holds the caller for getaddrinfo's own retries (tens of
// seconds) whatever the caller's timeout. Here the lookup runs on a thread of its own that the
// caller leaves behind at the deadline; the thread ends when getaddrinfo does.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "engine/result.hpp"

namespace troupe::http {

using Addresses = boost::asio::ip::tcp::resolver::results_type;

// A lookup: the addresses of a host and port, or what failed.
using Lookup = std::function<Result<Addresses>()>;

// Runs `lookup` on a thread of its own and waits at most `timeout` for it: its result, or an
// error saying no address came within the time.
Result<Addresses> resolve_within(Lookup lookup, std::chrono::milliseconds timeout);

// The lookup of host:port by the system's resolver (getaddrinfo).
Lookup system_lookup(std::string host, std::string port);

}  // namespace troupe::http
