#pragma once
// The default model loaded once per test binary, for the files that run many cases on it.
#include <catch2/catch.hpp>

#include "engine/model/model.hpp"
#include "tests/support/default_model.hpp"

namespace troupe::test {

inline const Model& loaded_default_model() {
  static const Model model = [] {
    auto m = load_model(default_model_path());
    REQUIRE(m.ok());
    return std::move(*m);
  }();
  return model;
}

}  // namespace troupe::test
