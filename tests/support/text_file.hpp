#pragma once
// A test's input file read whole (fixtures, templates); the test fails if it cannot be read.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace troupe::test {

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace troupe::test
