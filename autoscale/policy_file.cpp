#include "autoscale/policy_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace troupe::autoscale {
namespace {

// Reads one mapping's keys, refusing the ones it does not know.
class Fields {
 public:
  Fields(const YAML::Node& map, std::string where) : map_(map), where_(std::move(where)) {}

  Result<std::optional<double>> number(const std::string& key) {
    known_.insert(key);
    const YAML::Node value = map_[key];
    if (!value) return std::optional<double>{};
    try {
      if (!value.IsScalar()) throw YAML::BadConversion(value.Mark());
      const double parsed = value.as<double>();
      if (!std::isfinite(parsed)) throw YAML::BadConversion(value.Mark());
      return std::optional<double>{parsed};
    } catch (const YAML::Exception&) {
      return make_error(where_ + ": " + key + " must be a number");
    }
  }
  Result<std::optional<std::string>> text(const std::string& key) {
    known_.insert(key);
    const YAML::Node value = map_[key];
    if (!value) return std::optional<std::string>{};
    if (!value.IsScalar()) return make_error(where_ + ": " + key + " must be a string");
    return std::optional<std::string>{value.Scalar()};
  }
  void allow(const std::string& key) { known_.insert(key); }  // read by the caller
  const std::string& where() const { return where_; }
  Status unknown_keys() const {
    for (const auto& entry : map_) {
      const std::string key = entry.first.Scalar();
      if (!known_.count(key)) return make_error(where_ + ": unknown key '" + key + "'");
    }
    return Ok{};
  }

 private:
  YAML::Node map_;
  std::string where_;
  std::set<std::string> known_;
};

Status set_int(Fields& f, const std::string& key, int32_t& target) {
  auto value = f.number(key);
  if (!value) return value.error();
  if (!*value) return Ok{};
  if (**value != std::floor(**value) || std::abs(**value) > 1e6)
    return make_error(f.where() + ": " + key + " must be a whole number");
  target = static_cast<int32_t>(**value);
  return Ok{};
}

Status set_double(Fields& f, const std::string& key, double& target) {
  auto value = f.number(key);
  if (!value) return value.error();
  if (*value) target = **value;
  return Ok{};
}

Status set_seconds(Fields& f, const std::string& key, Milliseconds& target) {
  auto value = f.number(key);
  if (!value) return value.error();
  if (!*value) return Ok{};
  if (**value <= 0 || **value > 86400)
    return make_error(f.where() + ": " + key + " must be in (0, 86400]");
  target = Milliseconds(static_cast<int64_t>(std::llround(**value * 1000)));
  return Ok{};
}

#define TROUPE_TRY(expression)                 \
  if (Status status = (expression); !status) { \
    return status.error();                     \
  }

Result<Rule> parse_rule(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return make_error(where + " must be a mapping");
  Fields f(node, where);
  Rule rule;
  auto name = f.text("name");
  if (!name) return name.error();
  auto metric = f.text("metric");
  if (!metric) return metric.error();
  if (!*metric) return make_error(where + ": metric is required (one of " + metric_names() + ")");
  const auto parsed = parse_metric(**metric);
  if (!parsed)
    return make_error(where + ": unknown metric '" + **metric + "' (one of " + metric_names() +
                      ")");
  rule.metric = *parsed;
  rule.name = name->value_or(**metric);
  auto up = f.number("scale_up_above");
  if (!up) return up.error();
  auto down = f.number("scale_down_below");
  if (!down) return down.error();
  if (!*up || !*down)
    return make_error(where + ": scale_up_above and scale_down_below are required");
  rule.scale_up_above = **up;
  rule.scale_down_below = **down;
  TROUPE_TRY(set_int(f, "step_up", rule.step_up));
  TROUPE_TRY(set_int(f, "step_down", rule.step_down));
  TROUPE_TRY(set_seconds(f, "window_seconds", rule.window));
  TROUPE_TRY(f.unknown_keys());
  return rule;
}

Result<PolicyFile> parse_root(const YAML::Node& root, const std::string& origin) {
  PolicyFile file;
  file.policy.rules = default_rules();
  if (!root || root.IsNull()) return file;
  if (!root.IsMap()) return make_error(origin + ": must be a mapping of settings");
  PolicyConfig& p = file.policy;
  Fields f(root, origin);
  TROUPE_TRY(set_int(f, "min_replicas", p.min_replicas));
  TROUPE_TRY(set_int(f, "max_replicas", p.max_replicas));
  TROUPE_TRY(set_seconds(f, "scale_up_cooldown_seconds", p.scale_up_cooldown));
  TROUPE_TRY(set_seconds(f, "scale_down_cooldown_seconds", p.scale_down_cooldown));
  TROUPE_TRY(set_seconds(f, "panic_window_seconds", p.panic_window));
  TROUPE_TRY(set_double(f, "panic_threshold", p.panic_threshold));
  TROUPE_TRY(set_int(f, "max_scale_up_per_period", p.max_scale_up_per_period));
  TROUPE_TRY(set_int(f, "max_scale_down_per_period", p.max_scale_down_per_period));
  TROUPE_TRY(set_seconds(f, "scale_period_seconds", p.scale_period));
  TROUPE_TRY(set_seconds(f, "ready_timeout_seconds", p.ready_timeout));
  Milliseconds tick{0};
  TROUPE_TRY(set_seconds(f, "tick_seconds", tick));
  if (tick.count() > 0) file.tick = tick;
  f.allow("advisory");
  if (const YAML::Node advisory = root["advisory"]) {
    try {
      file.advisory = advisory.as<bool>();
    } catch (const YAML::Exception&) {
      return make_error(origin + ": advisory must be true or false");
    }
  }
  f.allow("slo");
  if (const YAML::Node slo = root["slo"]) {
    if (!slo.IsMap()) return make_error(origin + ": slo must be a mapping");
    Fields s(slo, origin + ": slo");
    TROUPE_TRY(set_double(s, "ttft_ms", p.slo.ttft_ms));
    TROUPE_TRY(set_double(s, "itl_ms", p.slo.itl_ms));
    TROUPE_TRY(set_double(s, "scale_down_below", p.slo.scale_down_below));
    TROUPE_TRY(set_seconds(s, "window_seconds", p.slo.window));
    TROUPE_TRY(s.unknown_keys());
  }
  f.allow("rules");
  if (const YAML::Node rules = root["rules"]) {
    if (!rules.IsSequence()) return make_error(origin + ": rules must be a list");
    p.rules.clear();
    for (size_t i = 0; i < rules.size(); ++i) {
      auto rule = parse_rule(rules[i], origin + ": rules[" + std::to_string(i) + "]");
      if (!rule) return rule.error();
      p.rules.push_back(std::move(*rule));
    }
  }
  TROUPE_TRY(f.unknown_keys());
  return file;
}

#undef TROUPE_TRY

}  // namespace

Result<PolicyFile> parse_policy_file(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return make_error(origin + ": not YAML: " + e.msg);
  }
  try {
    return parse_root(root, origin);
  } catch (const YAML::Exception& e) {  // a shape the checks above did not foresee
    return make_error(origin + ": " + e.msg);
  }
}

Result<PolicyFile> load_policy_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read the autoscale rules file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy_file(text.str(), path);
}

}  // namespace troupe::autoscale
