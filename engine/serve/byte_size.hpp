#pragma once
// Sizes in bytes as people write them: "2GiB", "512MiB", "1.5Gi", "4GB", "1000000".
// Binary suffixes (Ki, Mi, Gi, Ti, with or without B) are powers of 1024; decimal ones (K, M, G,
// T, with or without B) powers of 1000, as in Kubernetes quantities.
#include <cstdint>
#include <string_view>

#include "engine/result.hpp"

namespace troupe {

Result<int64_t> parse_byte_size(std::string_view text);

}  // namespace troupe
