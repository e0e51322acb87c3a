#pragma once
// GET /: a small chat page, built into the binary, that streams from /v1/chat/completions.
#include <string_view>

namespace troupe::api {

extern const std::string_view kChatPageHtml;

}  // namespace troupe::api
