#pragma once
// Where a model's forward pass runs: `--device cpu|cuda` on every command that loads a model.
#include <optional>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace troupe {

enum class Device { cpu, cuda };

std::optional<Device> parse_device(std::string_view name);
std::string_view device_name(Device device);

// Whether this build and machine can run `device`, or one line saying why not (a build without
// CUDA, no GPU visible, a backend not written yet) and what to use instead.
Status check_device(Device device);

}  // namespace troupe
