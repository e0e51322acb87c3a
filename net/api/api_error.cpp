#include "net/api/api_error.hpp"

#include <nlohmann/json.hpp>

#include "engine/serve/generate_request.hpp"

namespace troupe::api {

ApiError bad_parameter(const std::string& param, const std::string& message) {
  ApiError error;
  error.message = message;
  error.param = param;
  return error;
}

std::string error_json(const ApiError& error) {
  nlohmann::json body = {{"message", error.message}, {"type", error.type}};
  body["param"] = error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param);
  body["code"] = error.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code);
  return nlohmann::json{{"error", body}}.dump(-1, ' ', false,
                                              nlohmann::json::error_handler_t::replace);
}

http::Response error_response(const ApiError& error, http::Headers headers) {
  return error_response(error, error.status, error_json(error), std::move(headers));
}

http::Response error_response(const ApiError& error, int status, std::string body,
                              http::Headers headers) {
  if (error.retry_after_seconds > 0) {
    headers.emplace_back("Retry-After", std::to_string(error.retry_after_seconds));
  }
  return {status, "application/json", std::move(body), std::move(headers)};
}

ApiError error_for_failure(const std::string& request_error, const std::string& message) {
  ApiError error;
  error.message = message;
  error.code = request_error;
  if (request_error == request_error::kInvalid || request_error == request_error::kContextLength) {
    error.status = 400;
  } else if (request_error == request_error::kOverloaded ||
             request_error == request_error::kDraining ||
             request_error == request_error::kUnavailable) {
    error.status = 503;
    error.type = "service_unavailable_error";
    error.retry_after_seconds = 1;
  } else if (request_error == request_error::kTimeout) {
    error.status = 504;
    error.type = "timeout_error";
  } else {
    error.status = 500;
    error.type = "server_error";
  }
  return error;
}

}  // namespace troupe::api
