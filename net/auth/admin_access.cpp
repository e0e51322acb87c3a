#include "net/auth/admin_access.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/ip/address.hpp>

namespace troupe::auth {

bool is_loopback_address(std::string_view address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return false;
  if (parsed.is_v6() && parsed.to_v6().is_v4_mapped()) {
    parsed = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, parsed.to_v6());
  }
  return parsed.is_loopback();
}

namespace {

// A Host header's value, or an origin's host and port: localhost or a loopback address.
bool is_loopback_name(std::string_view host_and_port) {
  std::string host(host_and_port);
  if (!host.empty() && host.front() == '[') {  // [::1]:8000
    const auto end = host.find(']');
    if (end == std::string::npos) return false;
    host = host.substr(1, end - 1);
  } else if (const auto colon = host.find(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  return boost::algorithm::iequals(host, "localhost") || is_loopback_address(host);
}

}  // namespace

bool names_only_this_host(const std::map<std::string, std::string>& headers) {
  if (auto host = headers.find("host"); host != headers.end() && !is_loopback_name(host->second))
    return false;
  const auto origin = headers.find("origin");
  if (origin == headers.end()) return true;
  const auto scheme_end = origin->second.find("://");
  if (scheme_end == std::string::npos) return false;  // "null": a sandboxed page or a file
  return is_loopback_name(std::string_view(origin->second).substr(scheme_end + 3));
}

bool forwarded_by_proxy(const std::map<std::string, std::string>& headers) {
  return headers.count("forwarded") || headers.count("x-forwarded-for") ||
         headers.count("x-real-ip");
}

AdminAccess admin_access(bool keys_enabled, const KeyPolicy* key, std::string_view remote,
                         const std::map<std::string, std::string>& headers) {
  if (!keys_enabled) {
    if (!is_loopback_address(remote)) return AdminAccess::not_loopback;
    if (forwarded_by_proxy(headers)) return AdminAccess::proxied;
    return names_only_this_host(headers) ? AdminAccess::allowed : AdminAccess::another_name;
  }
  if (!key) return AdminAccess::no_key;
  return key->admin ? AdminAccess::allowed : AdminAccess::not_admin;
}

}  // namespace troupe::auth
