#include <catch2/catch.hpp>

#include "engine/serve/stop_matcher.hpp"

using namespace troupe;

TEST_CASE("stop matcher: text before a stop string is emitted, the rest never") {
  StopMatcher m({"\n\n", "END"});
  std::string out;
  for (const char* piece : {"Hello", " wor", "ld\n", "\nmore"}) out += m.feed(piece);
  CHECK(m.stopped());
  CHECK(m.matched() == "\n\n");
  CHECK(out == "Hello world");
  CHECK(m.feed("after").empty());
  CHECK(m.flush().empty());
}

TEST_CASE("stop matcher: a possible start of a stop string is held back until decided") {
  StopMatcher m({"STOP"});
  CHECK(m.feed("abcST") == "abc");
  CHECK(m.feed("x") == "STx");
  CHECK(m.feed("S") == "");
  CHECK(m.flush() == "S");
  CHECK(!m.stopped());
}

TEST_CASE("stop matcher: the earliest of several stop strings wins") {
  StopMatcher m({"cd", "b"});
  CHECK(m.feed("abcd") == "a");
  CHECK(m.matched() == "b");
}

TEST_CASE("stop matcher: without stop strings everything passes through") {
  StopMatcher m({});
  CHECK(m.feed("x") == "x");
  CHECK(m.flush().empty());
}
