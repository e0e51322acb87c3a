#include "engine/grammar/compiled_grammar.hpp"

#include <algorithm>

namespace troupe::grammar {
namespace {

// Rules that can match the empty string: an alternative without bytes is empty once all the
// rules it references are; a work list of rules found empty counts them down (linear in the
// grammar's size, where passes to a fixed point could be quadratic).
std::vector<bool> nullable_rules(const Grammar& g) {
  std::vector<bool> nullable(g.rules.size(), false);
  struct Alternative {
    size_t rule;
    size_t unknown;  // references to rules not yet known to be empty
  };
  std::vector<Alternative> alternatives;
  std::vector<std::vector<size_t>> used_in(g.rules.size());  // rule -> alternatives, per use
  std::vector<size_t> found;
  for (size_t r = 0; r < g.rules.size(); ++r) {
    for (const Sequence& alt : g.rules[r].alternatives) {
      const bool has_bytes = std::any_of(
          alt.begin(), alt.end(), [](const Element& e) { return e.kind == Element::Kind::bytes; });
      if (has_bytes) continue;
      for (const Element& e : alt)
        used_in[static_cast<size_t>(e.rule)].push_back(alternatives.size());
      alternatives.push_back({r, alt.size()});
      if (alt.empty() && !nullable[r]) {
        nullable[r] = true;
        found.push_back(r);
      }
    }
  }
  while (!found.empty()) {
    const size_t rule = found.back();
    found.pop_back();
    for (size_t a : used_in[rule]) {
      Alternative& alt = alternatives[a];
      if (--alt.unknown == 0 && !nullable[alt.rule]) {
        nullable[alt.rule] = true;
        found.push_back(alt.rule);
      }
    }
  }
  return nullable;
}

// The first rule found on a cycle of "can start with" edges (a rule starts with the rules its
// alternatives reference before their first byte), or -1.
int32_t left_recursive_rule(const Grammar& g, const std::vector<bool>& nullable) {
  const size_t n = g.rules.size();
  std::vector<std::vector<int32_t>> starts(n);
  for (size_t r = 0; r < n; ++r) {
    for (const Sequence& alt : g.rules[r].alternatives) {
      for (const Element& e : alt) {
        if (e.kind == Element::Kind::bytes) break;
        starts[r].push_back(e.rule);
        if (!nullable[static_cast<size_t>(e.rule)]) break;
      }
    }
  }
  enum Mark : uint8_t { unseen, open, done };
  std::vector<Mark> mark(n, unseen);
  std::vector<std::pair<int32_t, size_t>> path;  // depth-first, without recursion
  for (size_t first = 0; first < n; ++first) {
    if (mark[first] != unseen) continue;
    path.emplace_back(static_cast<int32_t>(first), 0);
    mark[first] = open;
    while (!path.empty()) {
      auto& [rule, next] = path.back();
      const auto& edges = starts[static_cast<size_t>(rule)];
      if (next == edges.size()) {
        mark[static_cast<size_t>(rule)] = done;
        path.pop_back();
        continue;
      }
      const int32_t to = edges[next++];
      if (mark[static_cast<size_t>(to)] == open) return to;
      if (mark[static_cast<size_t>(to)] == unseen) {
        mark[static_cast<size_t>(to)] = open;
        path.emplace_back(to, 0);
      }
    }
  }
  return -1;
}

}  // namespace

Result<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::compile(const Grammar& g) {
  const auto rules = static_cast<int32_t>(g.rules.size());
  if (g.root < 0 || g.root >= rules) return make_error("the grammar has no root rule");
  for (const Rule& rule : g.rules) {
    if (rule.alternatives.empty()) {
      return make_error("grammar rule '" + rule.name + "' has no alternatives");
    }
    for (const Sequence& alt : rule.alternatives) {
      for (const Element& e : alt) {
        if (e.kind == Element::Kind::rule && (e.rule < 0 || e.rule >= rules)) {
          return make_error("grammar rule '" + rule.name +
                            "' refers to a rule that is not defined");
        }
        if (e.kind == Element::Kind::bytes && e.lo > e.hi) {
          return make_error("grammar rule '" + rule.name + "' has an empty byte range");
        }
      }
    }
  }
  if (const int32_t r = left_recursive_rule(g, nullable_rules(g)); r >= 0) {
    return make_error("grammar rule '" + g.rules[static_cast<size_t>(r)].name +
                      "' is left-recursive: it can reach itself before matching any character "
                      "(a repetition of something that can be empty does this too)");
  }
  auto out = std::make_shared<CompiledGrammar>();
  out->root_ = g.root;
  for (const Rule& rule : g.rules) {
    out->names_.push_back(rule.name);
    auto& starts = out->alternatives_.emplace_back();
    for (const Sequence& alt : rule.alternatives) {
      starts.push_back(static_cast<int32_t>(out->elements_.size()));
      for (const Element& e : alt) {
        out->elements_.push_back(e.kind == Element::Kind::bytes
                                     ? FlatElement{FlatElement::Kind::bytes, e.lo, e.hi, -1}
                                     : FlatElement{FlatElement::Kind::rule, 0, 0, e.rule});
      }
      out->elements_.push_back({});  // end
    }
  }
  return std::shared_ptr<const CompiledGrammar>(std::move(out));
}

}  // namespace troupe::grammar
