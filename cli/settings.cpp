#include "cli/settings.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

namespace troupe::cli {
namespace {

// A setting's values, or nullopt for a boolean set to false (it hides the same key below it).
using Setting = std::optional<std::vector<std::string>>;

struct Layer {
  std::map<std::string, Setting> settings;
  std::map<std::string, std::string> origins;
};

const FlagSpec* find(const CommandSpec& spec, const std::string& name) {
  for (const FlagSpec& f : spec.flags)
    if (f.name == name) return &f;
  return nullptr;
}

// Flags that act rather than set: never keys of a file or variables.
bool is_setting(const std::string& name) {
  return name != "config" && name != "print-config";
}

bool is_secret(const std::string& name) {
  return name == "api-key" || name == "admin-api-key";
}

Result<Setting> file_value(const FlagSpec& flag, const YAML::Node& node, const std::string& where) {
  if (!node || node.IsNull()) return make_error(where + " has no value");
  if (flag.value_name.empty()) {
    bool on = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, on))
      return make_error(where + " must be true or false");
    return on ? Setting{std::vector<std::string>{""}} : Setting{};
  }
  if (node.IsScalar()) return Setting{std::vector<std::string>{node.Scalar()}};
  if (flag.repeatable && node.IsSequence()) {
    std::vector<std::string> values;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return make_error(where + " must be a list of values");
      values.push_back(item.Scalar());
    }
    return Setting{std::move(values)};
  }
  return make_error(where + (flag.repeatable ? " must be a value or a list of values"
                                             : " must be one value (" + flag.value_name + ")"));
}

Result<Layer> file_layer(const CommandSpec& spec, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return make_error("cannot read the config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    return make_error("config file '" + path + "' is not valid YAML (line " +
                      std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  Layer layer;
  if (root.IsNull()) return layer;  // an empty file sets nothing
  if (!root.IsMap())
    return make_error("config file '" + path + "' must be a map of settings (flag: value)");
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const std::string where = "key '" + key + "' in " + path;
    const FlagSpec* flag = find(spec, key);
    if (!flag || !is_setting(key))
      return make_error("unknown " + where + " (the keys are troupe " + spec.name +
                        "'s flags: see troupe " + spec.name + " --help)");
    auto value = file_value(*flag, entry.second, where);
    if (!value) return value.error();
    layer.settings[key] = std::move(*value);
    layer.origins[key] = where;
  }
  return layer;
}

Result<Layer> environment_layer(const CommandSpec& spec, const Environment& environment) {
  Layer layer;
  for (const FlagSpec& flag : spec.flags) {
    if (!is_setting(flag.name)) continue;
    const std::string variable = environment_name(flag.name);
    const auto value = environment(variable);
    if (!value) continue;
    if (flag.value_name.empty()) {
      std::string word = *value;
      std::transform(word.begin(), word.end(), word.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (word == "1" || word == "true" || word == "yes" || word == "on") {
        layer.settings[flag.name] = std::vector<std::string>{""};
      } else if (word == "0" || word == "false" || word == "no" || word == "off") {
        layer.settings[flag.name] = std::nullopt;
      } else {
        return make_error(variable + " must be 1 or 0 (true, false, yes, no, on, off)");
      }
    } else {
      layer.settings[flag.name] = std::vector<std::string>{*value};
    }
    layer.origins[flag.name] = variable;
  }
  return layer;
}

}  // namespace

std::vector<FlagSpec> config_flags() {
  return {{"config", "FILE",
           "YAML settings, each key a flag's name (configs/); TROUPE_<FLAG> variables and "
           "flags override it"},
          {"print-config", "",
           "print the settings (--config, TROUPE_* and flags, merged) as YAML, and exit"}};
}

std::string environment_name(const std::string& flag) {
  std::string name = "TROUPE_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

Result<Flags> merge_settings(const CommandSpec& spec, Flags command_line,
                             const Environment& environment) {
  auto from_environment = environment_layer(spec, environment);
  if (!from_environment) return from_environment.error();
  std::optional<std::string> config = command_line.get("config");
  if (!config) config = environment("TROUPE_CONFIG");
  Layer from_file;
  if (config && find(spec, "config")) {
    if (config->empty()) return make_error("--config needs a file");
    auto loaded = file_layer(spec, *config);
    if (!loaded) return loaded.error();
    from_file = std::move(*loaded);
  }
  // The file, then the environment over it; the command line over both.
  std::set<std::string> typed;
  for (const FlagSpec& flag : spec.flags)
    if (command_line.has(flag.name)) typed.insert(flag.name);
  for (const Layer* layer : {&from_file, &*from_environment}) {
    for (const auto& [name, setting] : layer->settings) {
      if (typed.count(name)) continue;
      command_line.set(name, setting.value_or(std::vector<std::string>{}), layer->origins.at(name));
    }
  }
  return command_line;
}

std::string settings_yaml(const CommandSpec& spec, const Flags& flags) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const FlagSpec& flag : spec.flags) {
    if (!is_setting(flag.name) || !flags.has(flag.name)) continue;
    out << YAML::Key << flag.name << YAML::Value;
    const std::vector<std::string> values = flags.get_all(flag.name);
    const auto shown = [&](const std::string& v) {
      return is_secret(flag.name) ? std::string("<redacted>") : v;
    };
    if (flag.value_name.empty()) {
      out << true;
    } else if (flag.repeatable) {
      out << YAML::BeginSeq;
      for (const std::string& v : values) out << shown(v);
      out << YAML::EndSeq;
    } else {
      out << YAML::DoubleQuoted << shown(values.front());
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace troupe::cli
