#pragma once
// json.dumps as transformers' tojson filter calls it: ensure_ascii=False by default, Python's
// separators and indentation, float repr, "Object of type X is not JSON serializable".
#include <optional>
#include <string>

#include "engine/chat/render_budget.hpp"
#include "engine/chat/value.hpp"

namespace troupe::chat {

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: single line
  std::string item_separator = ", ";  // Python's default; "," when indenting
  std::string key_separator = ": ";
  bool sort_keys = false;
};

Result<std::string> dump_json(RenderBudget& budget, const Value& value, const JsonOptions& options);

}  // namespace troupe::chat
