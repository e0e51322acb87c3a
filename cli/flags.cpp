#include "cli/flags.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace troupe::cli {
namespace {

const FlagSpec* find_flag(const CommandSpec& spec, const std::string& name) {
  for (const auto& f : spec.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

Result<Flags> Flags::parse(const CommandSpec& spec, const std::vector<std::string>& args) {
  Flags flags;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positional || arg.size() < 3 || arg.rfind("--", 0) != 0) {
      if (arg == "--") {
        only_positional = true;
        continue;
      }
      if (!only_positional && arg.size() > 1 && arg[0] == '-' && arg != "-") {
        return make_error("unknown flag '" + arg + "' for 'troupe " + spec.name + "' (see troupe " +
                          spec.name + " --help)");
      }
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help") {
      flags.values_.emplace("help", "");
      continue;
    }
    const FlagSpec* f = find_flag(spec, name);
    if (!f) {
      return make_error("unknown flag '--" + name + "' for 'troupe " + spec.name +
                        "' (see troupe " + spec.name + " --help)");
    }
    if (f->value_name.empty()) {
      if (value) return make_error("flag --" + name + " takes no value");
      flags.values_.emplace(name, "");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return make_error("flag --" + name + " needs a value (" + f->value_name + ")");
      }
      value = args[++i];
    }
    if (!f->repeatable && flags.has(name)) return make_error("flag --" + name + " given twice");
    flags.values_.emplace(name, *value);
  }
  return flags;
}

std::optional<std::string> Flags::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Flags::get_all(const std::string& name) const {
  std::vector<std::string> out;
  auto [begin, end] = values_.equal_range(name);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

void Flags::set(const std::string& name, const std::vector<std::string>& values,
                std::string origin) {
  values_.erase(name);
  for (const std::string& v : values) values_.emplace(name, v);
  origins_[name] = std::move(origin);
}

std::string Flags::attribute(const std::string& message) const {
  std::string out = message;
  for (const auto& [name, origin] : origins_) {
    for (const std::string& said : {"flag --" + name, "--" + name}) {
      size_t at = 0;
      while ((at = out.find(said, at)) != std::string::npos) {
        const size_t end = at + said.size();
        const bool whole = end == out.size() ||
                           !(std::isalnum(static_cast<unsigned char>(out[end])) || out[end] == '-');
        if (!whole) {
          at = end;
          continue;
        }
        out.replace(at, said.size(), origin);
        at += origin.size();
      }
    }
  }
  return out;
}

Result<long long> Flags::get_int(const std::string& name, long long fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE) {
    return make_error("flag --" + name + " needs an integer, got '" + *v + "'");
  }
  return n;
}

Result<double> Flags::get_double(const std::string& name, double fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d)) {
    return make_error("flag --" + name + " needs a number, got '" + *v + "'");
  }
  return d;
}

std::string usage(const CommandSpec& spec) {
  std::string out = "usage: " + spec.synopsis + "\n\n" + spec.summary + "\n";
  if (!spec.flags.empty()) out += "\nflags:\n";
  size_t width = 0;
  for (const auto& f : spec.flags) {
    width = std::max(width, f.name.size() + (f.value_name.empty() ? 0 : f.value_name.size() + 1));
  }
  for (const auto& f : spec.flags) {
    std::string left = "--" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    left.resize(width + 4, ' ');
    out += "  " + left + f.help + "\n";
  }
  out += "  --help" + std::string(width > 2 ? width - 2 : 1, ' ') + "show this help\n";
  return out;
}

Result<long long> ranged_int(const Flags& flags, const char* name, long long fallback,
                             long long min, long long max) {
  auto v = flags.get_int(name, fallback);
  if (!v) return v.error();
  if (*v < min || *v > max) {
    return make_error("flag --" + std::string(name) + " must be in [" + std::to_string(min) + ", " +
                      std::to_string(max) + "], got " + std::to_string(*v));
  }
  return *v;
}

Result<std::chrono::milliseconds> seconds_flag(const Flags& flags, const char* name,
                                               double fallback) {
  auto v = flags.get_double(name, fallback);
  if (!v) return v.error();
  if (!(*v > 0) || *v > 86400 * 7) {
    return make_error("flag --" + std::string(name) + " must be a positive number of seconds");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
}

}  // namespace troupe::cli
