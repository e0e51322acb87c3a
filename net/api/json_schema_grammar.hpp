#pragma once
// JSON Schema, as OpenAI's response_format and function tools carry it, compiled to the grammar
// of the JSON texts it accepts (engine/grammar), for constrained decoding. Supported: type (one
// or a list), properties / required / additionalProperties (absent means false, as in OpenAI's
// strict mode), items / prefixItems / minItems / maxItems, enum, const, anyOf / oneOf, $ref into
// $defs or definitions (recursion allowed), minLength / maxLength, string formats date, time,
// date-time, uuid and email, pattern (a regular expression searched for, as JSON Schema reads
// it: ^ and $ anchor it; not together with minLength / maxLength), and integer minimum 0 or 1
// (exclusiveMinimum 0). Annotations
// (title, description, default, examples, ...) are ignored. Any other keyword is an error that
// names it, never silently dropped: the output must always validate against the schema.
// Properties come out in the order the schema declares them: parse it as ordered_json.
#include <nlohmann/json.hpp>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::api {

// Whitespace between a JSON text's tokens: any (a newline and up to 20 spaces or tabs, or one
// space, or none), or compact (one space or none), where the text is only read by a program
// and every token spent on indentation is wasted.
enum class JsonSpacing { any, compact };

Result<grammar::Grammar> json_schema_grammar(const nlohmann::ordered_json& schema,
                                             JsonSpacing spacing = JsonSpacing::any);

// JSON mode (response_format json_object): any JSON object.
grammar::Grammar json_object_grammar();

}  // namespace troupe::api
