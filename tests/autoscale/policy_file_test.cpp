// The autoscaler's YAML settings: the shipped example parses to what it says, rules replace the
// defaults, and a mistake is one error naming the key and the file.
#include <catch2/catch.hpp>

#include "autoscale/policy_file.hpp"

using namespace troupe::autoscale;
using namespace std::chrono_literals;

TEST_CASE("the shipped example configs/autoscale-rules.yaml parses to what it says") {
  auto file = load_policy_file(std::string(TROUPE_SOURCE_DIR) + "/configs/autoscale-rules.yaml");
  REQUIRE(file);
  CHECK(file->policy.min_replicas == 1);
  CHECK(file->policy.max_replicas == 4);
  CHECK(file->tick == 1000ms);
  CHECK(file->policy.scale_down_cooldown == 120s);
  REQUIRE(file->policy.rules.size() == 3);
  CHECK(file->policy.rules[1].name == "batch");
  CHECK(file->policy.rules[1].metric == Metric::batch_occupancy);
  CHECK(file->policy.rules[2].window == 60s);
  CHECK_FALSE(check(file->policy));
}

TEST_CASE("a policy file sets what it names and keeps the defaults for the rest") {
  auto file = parse_policy_file(R"(
max_replicas: 8
advisory: true
slo: {ttft_ms: 400, window_seconds: 20}
rules:
  - {metric: kv_usage, scale_up_above: 0.9, scale_down_below: 0.2, step_up: 2}
)",
                                "test.yaml");
  REQUIRE(file);
  CHECK(file->policy.max_replicas == 8);
  CHECK(file->policy.min_replicas == 1);
  CHECK(file->advisory == true);
  CHECK(file->policy.slo.ttft_ms == 400);
  CHECK(file->policy.slo.window == 20s);
  REQUIRE(file->policy.rules.size() == 1);          // the file's rules replace the defaults
  CHECK(file->policy.rules[0].name == "kv_usage");  // named after its metric
  CHECK(file->policy.rules[0].step_up == 2);
  CHECK(parse_policy_file("", "empty.yaml")->policy.rules.size() == default_rules().size());
}

TEST_CASE("a mistake in a policy file is one error naming the key and the file") {
  const auto error = [](const std::string& text) {
    auto file = parse_policy_file(text, "f.yaml");
    REQUIRE_FALSE(file);
    return file.message();
  };
  CHECK(error("max_replica: 3") == "f.yaml: unknown key 'max_replica'");
  CHECK(error("max_replicas: lots") == "f.yaml: max_replicas must be a number");
  CHECK(error("max_replicas: 2.5") == "f.yaml: max_replicas must be a whole number");
  CHECK(error("scale_up_cooldown_seconds: -1") ==
        "f.yaml: scale_up_cooldown_seconds must be in (0, 86400]");
  CHECK(error("rules: [{metric: kv_usage, scale_up_above: 1, scale_down_below: 0, "
              "step_up: 0.5}]") == "f.yaml: rules[0]: step_up must be a whole number");
  CHECK(error("slo: {ttft: 3}") == "f.yaml: slo: unknown key 'ttft'");
  CHECK(error("rules: [{metric: gpu, scale_up_above: 1, scale_down_below: 0}]")
            .find("f.yaml: rules[0]: unknown metric 'gpu' (one of queue_per_replica") == 0);
  CHECK(error("rules: [{metric: kv_usage, scale_up_above: 1}]") ==
        "f.yaml: rules[0]: scale_up_above and scale_down_below are required");
  CHECK(error("rules: {a: 1}") == "f.yaml: rules must be a list");
  CHECK(error("[1, 2]") == "f.yaml: must be a mapping of settings");
  CHECK(error("a: [").find("f.yaml: not YAML") == 0);
}
