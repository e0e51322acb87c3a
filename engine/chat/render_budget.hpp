#pragma once
// Limits that keep a hostile or buggy template from hanging or exhausting memory: templates
// come from model files and may loop, recurse or build huge strings.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/result.hpp"

namespace troupe::chat {

struct RenderLimits {
  size_t max_output_bytes = size_t{16} << 20;
  size_t max_string_bytes = size_t{16} << 20;  // any single string a template builds
  size_t max_list_items = size_t{1} << 20;     // any single list a template builds
  uint64_t max_loop_iterations = 1'000'000;    // over the whole render
  uint64_t max_work = 200'000'000;             // evaluation steps plus bytes/items produced
  int max_macro_depth = 50;
  int max_eval_depth = 400;        // nested evaluation frames (keeps the C++ stack bounded)
  uint32_t max_value_depth = 256;  // nesting of lists/dicts
};

class RenderBudget {
 public:
  explicit RenderBudget(const RenderLimits& limits) : limits_(limits) {}

  const RenderLimits& limits() const { return limits_; }

  Status charge(uint64_t work) {
    work_ += work;
    if (work_ > limits_.max_work)
      return make_error("template exceeded its work limit (" + std::to_string(limits_.max_work) +
                        " steps); it may loop forever");
    return Ok{};
  }

  Status check_string(size_t bytes) {
    if (bytes > limits_.max_string_bytes)
      return make_error("template built a string larger than " +
                        std::to_string(limits_.max_string_bytes) + " bytes");
    return charge(bytes / 16);
  }

  Status check_items(size_t count) {
    if (count > limits_.max_list_items)
      return make_error("template built a list longer than " +
                        std::to_string(limits_.max_list_items) + " items");
    return charge(count);
  }

  Status count_iteration() {
    if (++iterations_ > limits_.max_loop_iterations)
      return make_error("template ran more than " + std::to_string(limits_.max_loop_iterations) +
                        " loop iterations");
    return charge(1);
  }

 private:
  RenderLimits limits_;
  uint64_t work_ = 0;
  uint64_t iterations_ = 0;
};

}  // namespace troupe::chat
