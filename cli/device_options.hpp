#pragma once
// --device and --threads: where a command that runs the model runs its forward pass.
#include <vector>

#include "cli/flags.hpp"
#include "engine/device/forward_pass_factory.hpp"
#include "engine/result.hpp"

namespace troupe::cli {

std::vector<FlagSpec> device_flags();
// Starts a tensor-parallel rank as a process: this binary as `troupe tensor-parallel-rank`.
parallel::RankLauncher rank_process_launcher();
// Errors: a bad value, or a device this build or machine cannot run (check_device's line).
Result<DeviceOptions> device_options(const Flags& flags);

}  // namespace troupe::cli
