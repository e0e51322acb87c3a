#include "net/http/tls_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/http/resolve_within.hpp"

namespace troupe::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Result<TlsEndpoint> parse_https_url(std::string_view url, std::string ca_pem) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return make_error("URL '" + std::string(url) + "' must start with https://");
  std::string_view authority = url.substr(kScheme.size());
  while (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find('/') != std::string_view::npos)
    return make_error("URL '" + std::string(url) + "' must have no path");
  TlsEndpoint endpoint;
  endpoint.ca_pem = std::move(ca_pem);
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    endpoint.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 1 && authority.front() == '[' && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);  // an IPv6 literal
  endpoint.host = std::string(authority);
  if (endpoint.host.empty() || endpoint.port.empty())
    return make_error("URL '" + std::string(url) + "' has no host or port");
  return endpoint;
}

Result<ClientResponse> fetch_tls(const TlsEndpoint& endpoint, const std::string& method,
                                 const std::string& path, const Headers& headers,
                                 const std::string& body, std::chrono::milliseconds timeout) {
  const std::string where = method + " https://" + endpoint.host + ":" + endpoint.port + path;
  asio::ssl::context context(asio::ssl::context::tls_client);
  beast::error_code ec;
  context.set_verify_mode(asio::ssl::verify_peer);
  context.add_certificate_authority(asio::buffer(endpoint.ca_pem), ec);
  if (ec || endpoint.ca_pem.empty())
    return make_error(where + " failed: the CA certificate is not PEM");
  asio::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream(io, context);
  // SNI, and the certificate must name the host (a DNS name or an IP address).
  SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str());
  stream.set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
  // The whole exchange within `timeout`: the lookup, then what is left for the rest.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto addresses = resolve_within(system_lookup(endpoint.host, endpoint.port), timeout);
  if (!addresses) return make_error(where + " failed: " + addresses.message());
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_at(deadline);

  bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), path, 11};
  request.set(bhttp::field::host, endpoint.host);
  request.set(bhttp::field::user_agent, "troupe");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  bhttp::response<bhttp::string_body> response;
  beast::flat_buffer buffer;
  beast::error_code failure;
  // Each step starts the next; io.run() returns when the last ends or one fails. Everything the
  // handlers touch lives on this frame until then.
  tcp.async_connect(*addresses, [&](beast::error_code ec, const auto&) {
    if (ec) return void(failure = ec);
    stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
      if (ec) return void(failure = ec);
      bhttp::async_write(stream, request, [&](beast::error_code ec, size_t) {
        if (ec) return void(failure = ec);
        bhttp::async_read(stream, buffer, response,
                          [&](beast::error_code ec, size_t) { failure = ec; });
      });
    });
  });
  io.run();
  if (failure == beast::error::timeout)
    return make_error(where + " failed: no answer within " + std::to_string(timeout.count()) +
                      " ms");
  if (failure) return make_error(where + " failed: " + failure.message());
  return ClientResponse{static_cast<int>(response.result_int()), std::move(response.body())};
}

}  // namespace troupe::http
