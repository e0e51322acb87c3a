#pragma once
// RAII helpers the interpreter shares between statements and expressions: switching the
// current scope and counting nesting depth.
#include <memory>

#include "engine/chat/interpreter.hpp"

namespace troupe::chat {

// Runs `scope` as the current scope for the guard's lifetime.
class ScopeSwap {
 public:
  ScopeSwap(std::shared_ptr<Scope>& slot, std::shared_ptr<Scope> scope)
      : slot_(slot), saved_(std::move(slot)) {
    slot_ = std::move(scope);
  }
  ~ScopeSwap() { slot_ = std::move(saved_); }
  ScopeSwap(const ScopeSwap&) = delete;
  ScopeSwap& operator=(const ScopeSwap&) = delete;

 private:
  std::shared_ptr<Scope>& slot_;
  std::shared_ptr<Scope> saved_;
};

inline std::shared_ptr<Scope> child_of(const std::shared_ptr<Scope>& parent) {
  auto scope = std::make_shared<Scope>();
  scope->parent = parent;
  return scope;
}

class DepthCounter {
 public:
  explicit DepthCounter(int& depth) : depth_(depth) { ++depth_; }
  ~DepthCounter() { --depth_; }
  DepthCounter(const DepthCounter&) = delete;
  DepthCounter& operator=(const DepthCounter&) = delete;

 private:
  int& depth_;
};

// Runtime errors from operations carry no position; this adds where they happened.
inline Error locate(SourcePos pos, const Error& error) {
  return runtime_error(pos, error.message);
}

}  // namespace troupe::chat
