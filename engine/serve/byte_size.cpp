#include "engine/serve/byte_size.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace troupe {

Result<int64_t> parse_byte_size(std::string_view text) {
  const auto bad = [&] {
    return Result<int64_t>(make_error("'" + std::string(text) +
                                      "' is not a size: write bytes, or e.g. 512MiB, 2GiB, 4GB"));
  };
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (digits == 0 || ec != std::errc() || end != text.data() + digits) return bad();

  std::string unit(text.substr(digits));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();  // "GiB" and "Gi", "GB" and "G"
  const bool binary = !unit.empty() && unit.back() == 'i';
  if (binary) unit.pop_back();
  if (unit.size() > 1) return bad();
  const std::string_view prefixes = "KMGT";
  double scale = 1;
  if (!unit.empty()) {
    const size_t power = prefixes.find(static_cast<char>(std::toupper(unit[0])));
    if (power == std::string_view::npos) return bad();
    scale = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(power + 1));
  } else if (binary) {
    return bad();
  }
  const double bytes = std::floor(number * scale);
  if (!(bytes >= 0) || bytes > 9.0e18) return bad();
  return static_cast<int64_t>(bytes);
}

}  // namespace troupe
