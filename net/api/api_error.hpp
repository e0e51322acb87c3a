#pragma once
// An API error as OpenAI shapes it: {"error": {"message", "type", "param", "code"}} with an HTTP
// status; and the mapping from a request's failure code (engine/serve/generate_request.hpp) to
// one.
#include <string>

#include "net/http/http_exchange.hpp"

namespace troupe::api {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;            // the offending request field, empty for none
  std::string code;             // empty for none
  int retry_after_seconds = 0;  // > 0: sent as Retry-After (429, 503)
};

ApiError bad_parameter(const std::string& param, const std::string& message);

std::string error_json(const ApiError& error);

// The HTTP answer for an error: `body` (OpenAI's shape unless given, e.g. TGI's) with the
// error's status, `headers`, and Retry-After when the error has one.
http::Response error_response(const ApiError& error, http::Headers headers = {});
http::Response error_response(const ApiError& error, int status, std::string body,
                              http::Headers headers);

// overloaded and draining -> 503, timeout -> 504, invalid_request -> 400, the rest -> 500/503.
ApiError error_for_failure(const std::string& request_error, const std::string& message);

}  // namespace troupe::api
