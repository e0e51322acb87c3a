#include "net/auth/admin_access.hpp"

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

bool forwarded_by_proxy(const std::map<std::string, std::string>& headers) {
  return headers.count("forwarded") || headers.count("x-forwarded-for") ||
         headers.count("x-real-ip");
}

AdminAccess admin_access(bool keys_enabled, const KeyPolicy* key, std::string_view remote,
                         bool forwarded) {
  if (!keys_enabled) {
    if (!is_loopback_address(remote)) return AdminAccess::not_loopback;
    return forwarded ? AdminAccess::proxied : AdminAccess::allowed;
  }
  if (!key) return AdminAccess::no_key;
  return key->admin ? AdminAccess::allowed : AdminAccess::not_admin;
}

}  // namespace troupe::auth
