#include "cli/front_client.hpp"

namespace troupe::cli {

std::vector<FlagSpec> front_flags() {
  return {{"url", "URL", "the front (default http://127.0.0.1:8000)"},
          {"api-key", "KEY", "the front's API key, when it requires one"}};
}

Result<http::ClientResponse> ask_front(const Flags& flags, const std::string& method,
                                       const std::string& path, const std::string& body) {
  auto url = http::parse_url(flags.get("url").value_or("http://127.0.0.1:8000"));
  if (!url) return make_error("flag --url: " + url.message());
  http::Headers headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  if (auto key = flags.get("api-key")) headers.emplace_back("Authorization", "Bearer " + *key);
  return http::fetch(*url, method, url->path + path, headers, body, {}, std::chrono::seconds(30));
}

}  // namespace troupe::cli
