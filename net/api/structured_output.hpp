#pragma once
// A request's structured-output fields turned into the grammar its output must match
// (SamplingParams::grammar): OpenAI's response_format (json_object, json_schema) and vLLM's
// guided_json, guided_choice, guided_regex and guided_grammar (GBNF). At most one of them; a schema
// or grammar the engine cannot take is a 400 naming the field and the problem.
#include <string_view>

#include "engine/sample/sampling_params.hpp"
#include "net/api/json_fields.hpp"

namespace troupe::api {

// `body` is the request's text: a schema is read from it again in its own key order, which
// the parsed fields (sorted keys) lose.
void read_structured_output(JsonFields& fields, std::string_view body, SamplingParams& sampling);

// TGI's `parameters.grammar` ({"type": "json", "value": schema} or {"type": "regex", ...}),
// read from `params` (the parameters object) and, in key order, from the body.
void read_tgi_grammar(JsonFields& params, std::string_view body, SamplingParams& sampling);

// The fields read_structured_output takes.
bool is_structured_output_field(std::string_view name);

}  // namespace troupe::api
