#include "cli/model_loading.hpp"

#include <fstream>
#include <sstream>

#include "cli/model_store.hpp"
#include "engine/device/device.hpp"

namespace troupe::cli {

Result<Model> load_model_for(const Flags& flags, const ShardSpec& shard) {
  auto path = resolve_model_path(flags.get("model").value_or(""));
  if (!path) return path.error();
  // A model on the GPU runs from the bytes as stored: no CPU layouts to build.
  const bool on_gpu = parse_device(flags.get("device").value_or("cpu")) == Device::cuda;
  auto model = load_model(*path, shard, on_gpu ? CpuPacking::no : CpuPacking::yes);
  if (!model) return model.error();
  if (auto file = flags.get("chat-template")) {
    std::ifstream in(*file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) return make_error("--chat-template: cannot read '" + *file + "'");
    if (text.str().empty())
      return make_error("--chat-template: '" + *file + "' is empty or unreadable");
    model->chat_template = text.str();
  }
  return model;
}

}  // namespace troupe::cli
