#pragma once
// The constants of fast_exp (fast_exp.hpp), shared by its scalar and 16-lane versions.

namespace troupe {

namespace fast_exp_constants {
constexpr float kShifter = 0x1.8p23f;  // adding it rounds to an integer in the low mantissa bits
constexpr float kInvLn2 = 0x1.715476p+0f;
constexpr float kLn2High = 0x1.62e4p-1f, kLn2Low = 0x1.7f7d1cp-20f;  // ln2 split for precision
constexpr float kC5 = 0x1.0e4020p-7f, kC4 = 0x1.573e2ep-5f, kC3 = 0x1.555e66p-3f,
                kC2 = 0x1.fffdb6p-2f, kC1 = 0x1.ffffecp-1f;
constexpr float kLimit = 192;  // beyond 2^±192 the result is 0 or infinity
}  // namespace fast_exp_constants

}  // namespace troupe
