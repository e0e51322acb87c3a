#include "net/api/token_reservation.hpp"

#include <algorithm>

namespace troupe::api {
namespace {

int64_t estimated_prompt_tokens(const GenerateRequest& request) {
  if (!request.prompt_tokens.empty()) return static_cast<int64_t>(request.prompt_tokens.size());
  size_t bytes = request.prompt.size();
  for (const auto& turn : request.messages) bytes += turn.content.size();
  return static_cast<int64_t>((bytes + 3) / 4);
}

}  // namespace

int64_t token_reservation(const std::vector<GenerateRequest>& requests, int max_model_len) {
  int64_t total = 0;
  for (const auto& request : requests) {
    const int64_t prompt = estimated_prompt_tokens(request);
    const int64_t room = std::max<int64_t>(1, max_model_len - prompt);
    const int64_t samples = std::max(1, request.sampling.n);
    total += prompt + samples * std::min<int64_t>(request.sampling.max_tokens, room);
  }
  return total;
}

}  // namespace troupe::api
