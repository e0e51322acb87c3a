#include "cli/device_options.hpp"

namespace troupe::cli {

std::vector<FlagSpec> device_flags() {
  return {{"device", "cpu|cuda", "where the forward pass runs (default cpu)"}, threads_flag()};
}

Result<DeviceOptions> device_options(const Flags& flags) {
  DeviceOptions o;
  if (auto name = flags.get("device")) {
    auto device = parse_device(*name);
    if (!device) return make_error("flag --device must be cpu or cuda, got '" + *name + "'");
    o.device = *device;
  }
  auto threads = ranged_int(flags, "threads", 0, 0, 1024);
  if (!threads) return threads.error();
  o.threads = static_cast<int>(*threads);
  if (auto s = check_device(o.device); !s) return s.error();
  return o;
}

}  // namespace troupe::cli
