#pragma once
// Finds stop strings in streamed text. Text that might be the start of a stop string is held
// back until the next piece shows whether it is; text from a stop string on is never emitted.
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds generated text; returns what is now safe to emit.
  std::string feed(std::string_view text);
  // At the end of generation: what was held back (empty after a stop).
  std::string flush();
  bool stopped() const { return stopped_; }
  // The stop string that matched, when stopped().
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace troupe
