#pragma once
// A small thread-safe metrics registry that renders the Prometheus text exposition format 0.0.4
// (we cannot use prometheus-cpp). Updates are lock-free atomics because they run per token on
// many threads; a mutex is taken only to create a child (a labelled series) or to render.
// Naming mistakes (bad names, a counter without _total, the wrong number of label values) are
// programming bugs and throw std::invalid_argument.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/wire/messages.hpp"

namespace troupe::metrics {

using LabelValues = std::vector<std::string>;

// A value that only goes up.
class Counter {
 public:
  // Throws std::invalid_argument if v is negative or NaN: a counter never goes down.
  void inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets with fixed upper bounds (le, inclusive) plus +Inf.
class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double v);
  // Adds observations counted elsewhere over the same bounds (ignored over other bounds).
  void add(const wire::LatencyCounts& counts);

  const std::vector<double>& bounds() const { return *bounds_; }
  // Cumulative counts, one per bound and a last one for +Inf (which equals count()).
  std::vector<uint64_t> cumulative_counts() const;
  uint64_t count() const { return cumulative_counts().back(); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  // Not cumulative: observe() touches one bucket. The last one is +Inf. The count is their
  // total, so _count always equals the +Inf bucket even while observations race a render.
  std::vector<std::atomic<uint64_t>> buckets_;
  std::atomic<double> sum_{0};
};

// What families share, so that the registry can hold and render them together.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends # HELP, # TYPE and every child's samples; nothing for a family without children.
  void render(std::string& out) const;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             const char* type);
  virtual void render_children(std::string& out) const = 0;
  virtual bool empty() const = 0;
  void check_label_count(const LabelValues& values) const;
  // `a="x",b="y"` with values escaped; empty for a family without labels.
  std::string render_label_pairs(const LabelValues& values) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  const char* type_;
  mutable std::mutex mutex_;  // guards children
};

// Every child of a family has the same label names; with() picks one by its label values.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  // Returns the child for these label values (in label-name order), creating it on first use.
  // The reference stays valid as long as the registry: cache it on hot paths, since this call
  // takes a mutex. Throws std::invalid_argument if the number of values is wrong.
  Metric& with(const LabelValues& label_values);

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::shared_ptr<const std::vector<double>> bounds);
  void render_children(std::string& out) const override;
  bool empty() const override;

  struct Child {
    std::string label_pairs;  // rendered once, at creation
    std::unique_ptr<Metric> metric;
  };
  std::map<LabelValues, Child> children_;              // sorted, so render order is stable
  std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each throws std::invalid_argument on an invalid or already registered name, an invalid or
  // repeated label name; counter() also when the name does not end in _total; histogram() also
  // when the bounds are not finite and strictly increasing or a label is named "le".
  // A family without label names has its one child from the start, so it renders a 0.
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names, std::vector<double> bounds);

  // The text exposition format, families in registration order, children by label values.
  std::string render() const;

 private:
  template <typename Metric>
  Family<Metric>& add(std::unique_ptr<Family<Metric>> family);

  mutable std::mutex mutex_;  // guards families_
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

}  // namespace troupe::metrics
