#include "net/metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "net/metrics/latency_counts.hpp"

namespace troupe::metrics {

namespace {

bool is_name_start(char c, bool colon_allowed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_allowed && c == ':');
}

bool is_valid_name(const std::string& name, bool colon_allowed) {
  if (name.empty() || !is_name_start(name[0], colon_allowed)) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return is_name_start(c, colon_allowed) || (c >= '0' && c <= '9');
  });
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_family(const std::string& name, const std::vector<std::string>& label_names) {
  if (!is_valid_name(name, /*colon_allowed=*/true)) {
    throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
  }
  std::set<std::string> seen;
  for (const auto& label : label_names) {
    // Names starting with __ are reserved for Prometheus itself.
    if (!is_valid_name(label, /*colon_allowed=*/false) || label.rfind("__", 0) == 0) {
      throw std::invalid_argument("metrics: invalid label name '" + label + "' in " + name);
    }
    if (!seen.insert(label).second) {
      throw std::invalid_argument("metrics: label '" + label + "' repeated in " + name);
    }
  }
}

// Prometheus parses sample values with Go's ParseFloat: integers print without an exponent
// where a double holds them exactly, other values as the shortest text that reads back equal.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return "0";  // also -0
  char buffer[64];
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  const bool integral = std::trunc(v) == v && std::fabs(v) <= kExactIntegers;
  auto [end, error] =
      integral ? std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed)
               : std::to_chars(buffer, buffer + sizeof buffer, v);
  (void)error;  // 64 characters hold any double
  return std::string(buffer, end);
}

std::string format_value(uint64_t v) {
  return std::to_string(v);
}

// Label values escape backslash, double quote and newline; help text the same but quotes.
void append_escaped(std::string& out, const std::string& text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// One line: name+suffix{label_pairs[,extra]} value
void append_sample(std::string& out, const std::string& name, const char* suffix,
                   const std::string& label_pairs, const std::string& extra_pair,
                   const std::string& value) {
  out += name;
  out += suffix;
  if (!label_pairs.empty() || !extra_pair.empty()) {
    out += '{';
    out += label_pairs;
    if (!label_pairs.empty() && !extra_pair.empty()) out += ',';
    out += extra_pair;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void render_child(std::string& out, const std::string& name, const std::string& label_pairs,
                  const Counter& counter) {
  append_sample(out, name, "", label_pairs, "", format_value(counter.value()));
}

void render_child(std::string& out, const std::string& name, const std::string& label_pairs,
                  const Gauge& gauge) {
  append_sample(out, name, "", label_pairs, "", format_value(gauge.value()));
}

void render_child(std::string& out, const std::string& name, const std::string& label_pairs,
                  const Histogram& histogram) {
  const auto counts = histogram.cumulative_counts();
  const auto& bounds = histogram.bounds();
  for (size_t i = 0; i < counts.size(); ++i) {
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    append_sample(out, name, "_bucket", label_pairs, "le=\"" + le + "\"", format_value(counts[i]));
  }
  append_sample(out, name, "_sum", label_pairs, "", format_value(histogram.sum()));
  append_sample(out, name, "_count", label_pairs, "", format_value(counts.back()));
}

}  // namespace

void Counter::inc(double v) {
  if (!(v >= 0)) throw std::invalid_argument("metrics: a counter cannot go down");
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_->size() + 1) {}

void Histogram::observe(double v) {
  buckets_[bucket_of(*bounds_, v)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::add(const wire::LatencyCounts& counts) {
  if (counts.bounds != *bounds_ || counts.counts.size() != buckets_.size()) return;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    buckets_[i].fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, counts.counts[i])),
                          std::memory_order_relaxed);
  }
  sum_.fetch_add(counts.sum, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> counts(buckets_.size());
  uint64_t total = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       const char* type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {}

void FamilyBase::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  if (empty()) return;  // as Prometheus' clients do: no samples, no family
  out += "# HELP " + name_ + ' ';
  append_escaped(out, help_, /*escape_quote=*/false);
  out += "\n# TYPE " + name_ + ' ' + type_ + '\n';
  render_children(out);
}

void FamilyBase::check_label_count(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
}

std::string FamilyBase::render_label_pairs(const LabelValues& values) const {
  std::string pairs;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) pairs += ',';
    pairs += label_names_[i] + "=\"";
    append_escaped(pairs, values[i], /*escape_quote=*/true);
    pairs += '"';
  }
  return pairs;
}

namespace {
template <typename Metric>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<Metric, Counter>) return "counter";
  if constexpr (std::is_same_v<Metric, Gauge>) return "gauge";
  if constexpr (std::is_same_v<Metric, Histogram>) return "histogram";
}
}  // namespace

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::shared_ptr<const std::vector<double>> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names), type_name<Metric>()),
      bounds_(std::move(bounds)) {}

template <typename Metric>
Metric& Family<Metric>::with(const LabelValues& label_values) {
  check_label_count(label_values);
  std::lock_guard lock(mutex_);
  auto it = children_.find(label_values);
  if (it == children_.end()) {
    std::unique_ptr<Metric> metric;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      metric = std::make_unique<Histogram>(bounds_);
    } else {
      metric = std::make_unique<Metric>();
    }
    it = children_.emplace(label_values, Child{render_label_pairs(label_values), std::move(metric)})
             .first;
  }
  return *it->second.metric;
}

template <typename Metric>
void Family<Metric>::render_children(std::string& out) const {
  for (const auto& [values, child] : children_) {
    render_child(out, name_, child.label_pairs, *child.metric);
  }
}

template <typename Metric>
bool Family<Metric>::empty() const {
  return children_.empty();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& MetricsRegistry::add(std::unique_ptr<Family<Metric>> family) {
  Family<Metric>& added = *family;
  // A family without labels has exactly one series; it exists (at 0) from the start.
  if (added.label_names().empty()) added.with({});
  std::lock_guard lock(mutex_);
  for (const auto& existing : families_) {
    if (existing->name() == added.name()) {
      throw std::invalid_argument("metrics: " + added.name() + " is already registered");
    }
  }
  families_.push_back(std::move(family));
  return added;
}

CounterFamily& MetricsRegistry::counter(std::string name, std::string help,
                                        std::vector<std::string> label_names) {
  check_family(name, label_names);
  // Prometheus' naming rule (promtool lints it): a counter's name says so by ending in _total.
  if (!ends_with(name, "_total")) {
    throw std::invalid_argument("metrics: counter name '" + name + "' must end in _total");
  }
  return add(std::unique_ptr<CounterFamily>(
      new CounterFamily(std::move(name), std::move(help), std::move(label_names), {})));
}

GaugeFamily& MetricsRegistry::gauge(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  check_family(name, label_names);
  return add(std::unique_ptr<GaugeFamily>(
      new GaugeFamily(std::move(name), std::move(help), std::move(label_names), {})));
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  check_family(name, label_names);
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    throw std::invalid_argument("metrics: histogram " + name + " cannot have a label 'le'");
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("metrics: histogram " + name +
                                  " bounds must be finite and strictly increasing (+Inf is "
                                  "implied)");
    }
  }
  auto shared_bounds = std::make_shared<const std::vector<double>>(std::move(bounds));
  // new, not make_unique: the constructor is private to the registry.
  return add(std::unique_ptr<HistogramFamily>(new HistogramFamily(
      std::move(name), std::move(help), std::move(label_names), std::move(shared_bounds))));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace troupe::metrics
