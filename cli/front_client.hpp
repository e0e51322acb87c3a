#pragma once
// The commands that talk to a running front over HTTP (status, drain): its --url and --api-key
// flags, and one request to it.
#include <string>
#include <vector>

#include "cli/flags.hpp"
#include "engine/result.hpp"
#include "net/http/http_client.hpp"

namespace troupe::cli {

// --url (default http://127.0.0.1:8000) and --api-key.
std::vector<FlagSpec> front_flags();

// `method` `path` (under the URL's own path) on the front, JSON `body` when not empty.
Result<http::ClientResponse> ask_front(const Flags& flags, const std::string& method,
                                       const std::string& path, const std::string& body = "");

}  // namespace troupe::cli
