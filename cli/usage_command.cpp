// troupe usage: the HTTP gateway's usage ledger, per API key, as a table or JSON.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "cli/model_store.hpp"
#include "net/usage/usage_ledger.hpp"

namespace troupe::cli {
namespace {

std::string default_ledger_path() {
  return troupe_home() + "/usage.db";
}

// UTC, so the same ledger prints the same on every machine.
std::string format_unix_seconds(int64_t seconds) {
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  char text[32] = "";
  if (!gmtime_r(&time, &utc) || !std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc))
    return std::to_string(seconds);
  return text;
}

void print_json(const std::vector<UsageRow>& rows) {
  auto array = nlohmann::json::array();
  for (const auto& row : rows) {
    array.push_back({{"key", row.key_name},
                     {"requests", row.requests},
                     {"prompt_tokens", row.prompt_tokens},
                     {"completion_tokens", row.completion_tokens},
                     {"first_seen", row.first_seen},
                     {"last_seen", row.last_seen}});
  }
  // replace: a key name that is not UTF-8 must not abort the listing.
  const auto text = array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
}

// Key left-aligned, counts right-aligned, each column as wide as its widest cell.
void print_table(const std::vector<UsageRow>& rows) {
  std::vector<std::vector<std::string>> cells = {
      {"key", "requests", "prompt tokens", "completion tokens", "last seen"}};
  for (const auto& row : rows) {
    cells.push_back({row.key_name, std::to_string(row.requests), std::to_string(row.prompt_tokens),
                     std::to_string(row.completion_tokens), format_unix_seconds(row.last_seen)});
  }
  std::vector<size_t> widths(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], line[c].size());
  }
  for (const auto& line : cells) {
    std::string out;
    for (size_t c = 0; c < line.size(); ++c) {
      const std::string padding(widths[c] - line[c].size(), ' ');
      const bool right_aligned = c >= 1 && c <= 3;
      if (c > 0) out += "  ";
      out += right_aligned ? padding + line[c] : line[c] + (c + 1 < line.size() ? padding : "");
    }
    std::printf("%s\n", out.c_str());
  }
}

}  // namespace

int usage_command(const Args& args) {
  const CommandSpec spec{
      "usage",
      "troupe usage [--db FILE] [--json]",
      "Prints the HTTP gateway's usage ledger: per API key, the requests served and the prompt\n"
      "and completion tokens they used. The ledger is read, never created or changed.",
      {{"db", "FILE", "usage ledger (default: $TROUPE_HOME/usage.db, ~/.cache/troupe/usage.db)"},
       {"json", "", "print a JSON array instead of a table (times in unix seconds)"}}};
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("'troupe usage' takes no arguments, got '" + flags.positional()[0] +
                       "' (see troupe usage --help)");
  }
  const std::string path = flags.get("db").value_or(default_ledger_path());
  // Checked here so a mistyped --db names the problem instead of SQLite's "unable to open".
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return input_error("no usage ledger at '" + path +
                       "': the HTTP gateway creates it when it serves; pass --db FILE for another");
  }
  auto ledger = UsageLedger::open_existing(path);
  if (!ledger) return input_error(ledger.message());
  auto rows = (*ledger)->totals();
  if (!rows) {
    std::fprintf(stderr, "troupe: %s\n", rows.message().c_str());
    return 1;
  }
  if (flags.has("json")) {
    print_json(*rows);
  } else {
    print_table(*rows);
  }
  return 0;
}

}  // namespace troupe::cli
