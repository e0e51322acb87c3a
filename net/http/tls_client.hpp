#pragma once
// A blocking HTTPS client for calls to a control plane (the Kubernetes API server): one request
// on a connection of its own, the server's certificate checked against the CA given (never
// skipped) and its name against the host, the whole exchange, name lookup included, bounded by a
// timeout.
#include <chrono>
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "net/http/http_client.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::http {

struct TlsEndpoint {
  std::string host;
  std::string port = "443";
  std::string ca_pem;  // the certificates the server's chain must lead to (PEM)
};

// Parses "https://host[:port]" (no path).
Result<TlsEndpoint> parse_https_url(std::string_view url, std::string ca_pem);

// Errors name the URL and what failed: the connection, the certificate ("certificate verify
// failed"), a timeout.
Result<ClientResponse> fetch_tls(const TlsEndpoint& endpoint, const std::string& method,
                                 const std::string& path, const Headers& headers,
                                 const std::string& body, std::chrono::milliseconds timeout);

}  // namespace troupe::http
