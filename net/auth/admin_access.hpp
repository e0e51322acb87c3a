#pragma once
// Who may call the admin routes (drain, undrain, the cluster's status): a pure decision over the
// request's key and address. With API keys configured, only a key with the admin role, from any
// address; a tenant key is refused as forbidden, a missing or wrong key as unauthenticated.
// With no keys at all (a local, trusted set-up), only callers on the loopback interface that
// did not come through a proxy (nginx on the same host, from `troupe deploy nginx`, connects
// from loopback on behalf of anyone who reaches it) and that name only this host: a web page
// elsewhere that a local browser runs connects from loopback too, but its Origin names its
// site, and a site's name rebound to 127.0.0.1 is its Host.
#include <map>
#include <string>
#include <string_view>

#include "net/auth/api_keys.hpp"

namespace troupe::auth {

enum class AdminAccess {
  allowed,
  no_key,        // 401: keys are configured and the request carries none that is valid
  not_admin,     // 403: a tenant key
  not_loopback,  // 403: no keys configured and the caller is not on this host
  proxied,       // 403: no keys configured and the request names a proxy's client
  another_name,  // 403: no keys configured and its Host or Origin names another host
};

// `key`: the request's authenticated key, or nullptr. `remote`: the peer's address as text.
// `headers`: the request's, names in lower case.
AdminAccess admin_access(bool keys_enabled, const KeyPolicy* key, std::string_view remote,
                         const std::map<std::string, std::string>& headers);

// Whether a request's headers (names in lower case) say a proxy passed it on: Forwarded,
// X-Forwarded-For or X-Real-IP.
bool forwarded_by_proxy(const std::map<std::string, std::string>& headers);

// 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z).
bool is_loopback_address(std::string_view address);

// Whether a request's Host, and its Origin when it has one, name only this host: localhost or
// a loopback address, with any port.
bool names_only_this_host(const std::map<std::string, std::string>& headers);

}  // namespace troupe::auth
