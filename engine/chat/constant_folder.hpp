#pragma once
// Constant folding as jinja2's compiler does it. Folding is observable in jinja2: a folded
// slice goes through getitem (a failed slice gives Undefined) while a slice evaluated at
// render time raises, and only some expressions are folded. This pass rewrites the tree the
// same way so that renders agree with jinja2 even there.
#include "engine/chat/ast.hpp"

namespace troupe::chat {

void fold_constants(Program& program);

}  // namespace troupe::chat
