// troupe bench serve: vLLM's serving benchmark against any OpenAI-compatible server. Sends N
// streamed /v1/completions requests of I random prompt tokens (exactly O output tokens each,
// ignore_eos) from C concurrent clients, optionally paced as a Poisson process of R requests/s,
// and reports TTFT, TPOT, ITL and end-to-end latency percentiles and the throughput.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cli/commands.hpp"
#include "net/api/bounded_json.hpp"
#include "net/http/http_client.hpp"
#include "net/http/sse_reader.hpp"

namespace troupe::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  http::Url base;
  std::string api_key, model;
  int concurrency = 1, num_prompts = 0, input_len = 0, output_len = 0;
  double request_rate = 0;  // 0: all at once
  uint64_t seed = 0;
};

struct Timing {
  bool ok = false;
  std::string error;
  double ttft = 0, e2e = 0;
  std::vector<double> itl;
  int output_tokens = 0;
};

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

http::Headers request_headers(const Shape& s) {
  http::Headers h = {{"Content-Type", "application/json"}};
  if (!s.api_key.empty()) h.emplace_back("Authorization", "Bearer " + s.api_key);
  return h;
}

// One streamed completion; times every event that carries text.
Timing run_one(const Shape& shape, http::Connection& connection,
               const std::vector<int32_t>& prompt) {
  const nlohmann::json body = {{"model", shape.model},
                               {"prompt", prompt},
                               {"max_tokens", shape.output_len},
                               {"temperature", 0},
                               {"ignore_eos", true},
                               {"stream", true},
                               {"stream_options", {{"include_usage", true}}}};
  Timing t;
  const auto start = Clock::now();
  auto last = start;
  bool first = true;
  int events = 0, usage_tokens = -1;
  http::SseReader reader;
  std::string error_body;
  auto on_one_event = [&](std::string_view data) {
    if (data.empty() || data == "[DONE]") return;
    const auto event = api::parse_bounded_json_or_discarded(data);
    if (event.is_discarded()) return;
    if (event.contains("error")) t.error = event["error"].dump();
    if (event.contains("usage") && event["usage"].is_object()) {
      usage_tokens = event["usage"].value("completion_tokens", -1);
    }
    if (!event.contains("choices") || event["choices"].empty()) return;
    const auto& choice = event["choices"][0];
    const std::string text = choice.value("text", std::string());
    if (text.empty()) return;
    const auto now = Clock::now();
    if (first) {
      t.ttft = std::chrono::duration<double>(now - start).count();
      first = false;
    } else {
      t.itl.push_back(std::chrono::duration<double>(now - last).count());
    }
    last = now;
    ++events;
  };
  // An event of another shape (a server of another kind) is an error of this request, not an
  // exception out of the command.
  auto on_event = [&](std::string_view data) {
    try {
      on_one_event(data);
    } catch (const nlohmann::json::exception& e) {
      if (t.error.empty()) t.error = std::string("an event troupe cannot read: ") + e.what();
    }
  };
  auto response = connection.fetch(
      "POST", "/v1/completions", request_headers(shape), body.dump(), [&](std::string_view piece) {
        error_body.append(piece.substr(0, 512 - std::min<size_t>(512, error_body.size())));
        reader.feed(piece, on_event);
      });
  t.e2e = since(start);
  if (!response) {
    t.error = response.message();
  } else if (response->status != 200) {
    t.error = "HTTP " + std::to_string(response->status) + ": " + error_body;
  }
  t.output_tokens = usage_tokens >= 0 ? usage_tokens : events;
  t.ok = t.error.empty() && !first;
  return t;
}

Result<std::string> served_model(const Shape& shape) {
  auto response = http::fetch(shape.base, "GET", "/v1/models", request_headers(shape), "");
  if (!response) return response.error();
  const auto body = api::parse_bounded_json_or_discarded(response->body);
  if (response->status != 200 || body.is_discarded() || !body.contains("data") ||
      body["data"].empty()) {
    return make_error("GET /v1/models answered " + std::to_string(response->status) +
                      "; give --model");
  }
  try {  // a server of another kind: its answer named, not an exception
    return body["data"][0].value("id", std::string());
  } catch (const nlohmann::json::exception&) {
    return make_error("GET /v1/models answered a list troupe cannot read; give --model");
  }
}

Result<Shape> shape_from_flags(const Flags& flags) {
  Shape s;
  auto base = http::parse_url(flags.get("base-url").value_or("http://127.0.0.1:8000"));
  if (!base) return make_error("flag --base-url: " + base.message());
  s.base = *base;
  s.api_key = flags.get("api-key").value_or("");
  s.model = flags.get("model").value_or("");
  struct IntFlag {
    const char* name;
    int& out;
    long long fallback;
  };
  for (auto [name, out, fallback] :
       {IntFlag{"concurrency", s.concurrency, 1}, IntFlag{"num-prompts", s.num_prompts, 100},
        IntFlag{"input-len", s.input_len, 128}, IntFlag{"output-len", s.output_len, 128}}) {
    auto v = flags.get_int(name, fallback);
    if (!v) return v.error();
    if (*v < 1 || *v > 1000000) return make_error("flag --" + std::string(name) + " must be >= 1");
    out = static_cast<int>(*v);
  }
  auto rate = flags.get_double("request-rate", 0);
  if (!rate) return rate.error();
  if (*rate < 0) return make_error("flag --request-rate must be >= 0 (0: all at once)");
  s.request_rate = *rate;
  auto seed = flags.get_int("seed", 0);
  if (!seed) return seed.error();
  s.seed = static_cast<uint64_t>(*seed);
  return s;
}

void progress(int done, int total) {
  constexpr int kWidth = 40;
  const int filled = total ? done * kWidth / total : kWidth;
  std::fprintf(stderr, "\r[%.*s%*s] %d/%d", filled, "########################################",
               kWidth - filled, "", done, total);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

int bench_serve_command(const Args& args) {
  CommandSpec spec{
      "bench serve",
      "troupe bench serve [--base-url URL] --concurrency C --num-prompts N --input-len I "
      "--output-len O",
      "vLLM's serving benchmark, against any OpenAI-compatible server: N streamed completions\n"
      "of I random prompt tokens and exactly O output tokens, C at a time. Prints TTFT, TPOT,\n"
      "ITL and end-to-end latency (mean, p50, p90, p99), requests/s and tokens/s.",
      {{"base-url", "URL", "the server (default http://127.0.0.1:8000)"},
       {"api-key", "KEY", "sent as 'Authorization: Bearer KEY'"},
       {"model", "NAME", "the model to ask for (default: the first of GET /v1/models)"},
       {"concurrency", "C", "requests in flight at once (default 1)"},
       {"num-prompts", "N", "requests in all (default 100)"},
       {"input-len", "I", "random prompt tokens per request (default 128)"},
       {"output-len", "O", "tokens generated per request (default 128)"},
       {"request-rate", "R", "Poisson arrivals at R requests/s; 0 sends at once (default 0)"},
       {"seed", "N", "seed of the random prompts and arrivals (default 0)"},
       {"json", "FILE", "also write the results as JSON to FILE"}}};
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  auto shape = shape_from_flags(flags);
  if (!shape) return input_error(shape.message());
  if (shape->model.empty()) {
    auto model = served_model(*shape);
    if (!model) return input_error(model.message());
    shape->model = *model;
  }

  // Prompts and arrival times, fixed by the seed. Token ids stay below 10000, inside any vocab.
  std::mt19937_64 rng(shape->seed);
  std::uniform_int_distribution<int32_t> token(100, 9999);
  std::exponential_distribution<double> gap(shape->request_rate > 0 ? shape->request_rate : 1);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(shape->num_prompts));
  std::vector<double> arrival(prompts.size(), 0);
  double at = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    for (int k = 0; k < shape->input_len; ++k) prompts[i].push_back(token(rng));
    if (shape->request_rate > 0) at += gap(rng);
    arrival[i] = at;
  }

  std::vector<Timing> timings(prompts.size());
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::mutex print;
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < shape->concurrency; ++c) {
    clients.emplace_back([&] {
      http::Connection connection(shape->base);  // kept alive, as vLLM's benchmark client does
      for (size_t i; (i = next.fetch_add(1)) < prompts.size();) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(arrival[i])));
        timings[i] = run_one(*shape, connection, prompts[i]);
        std::lock_guard lock(print);
        progress(++done, shape->num_prompts);
      }
    });
  }
  for (auto& t : clients) t.join();
  const double duration = since(start);

  std::vector<double> ttft, tpot, itl, e2e;
  int ok = 0;
  long long output_tokens = 0;
  std::string first_error;
  for (const auto& t : timings) {
    if (!t.ok) {
      if (first_error.empty()) first_error = t.error;
      continue;
    }
    ++ok;
    output_tokens += t.output_tokens;
    ttft.push_back(t.ttft);
    e2e.push_back(t.e2e);
    if (t.output_tokens > 1) tpot.push_back((t.e2e - t.ttft) / (t.output_tokens - 1));
    itl.insert(itl.end(), t.itl.begin(), t.itl.end());
  }
  const long long input_tokens = static_cast<long long>(ok) * shape->input_len;
  std::printf("============ Serving Benchmark Result ============\n");
  std::printf("%-40s %d\n", "Successful requests:", ok);
  std::printf("%-40s %d\n", "Failed requests:", shape->num_prompts - ok);
  std::printf("%-40s %d\n", "Concurrency:", shape->concurrency);
  std::printf("%-40s %.2f\n", "Benchmark duration (s):", duration);
  std::printf("%-40s %lld\n", "Total input tokens:", input_tokens);
  std::printf("%-40s %lld\n", "Total generated tokens:", output_tokens);
  std::printf("%-40s %.2f\n", "Request throughput (req/s):", ok / duration);
  std::printf("%-40s %.2f\n", "Output token throughput (tok/s):", output_tokens / duration);
  std::printf("%-40s %.2f\n",
              "Total token throughput (tok/s):", (input_tokens + output_tokens) / duration);
  nlohmann::json json = {{"base_url", flags.get("base-url").value_or("http://127.0.0.1:8000")},
                         {"model", shape->model},
                         {"concurrency", shape->concurrency},
                         {"num_prompts", shape->num_prompts},
                         {"input_len", shape->input_len},
                         {"output_len", shape->output_len},
                         {"request_rate", shape->request_rate},
                         {"completed", ok},
                         {"duration_s", duration},
                         {"request_throughput", ok / duration},
                         {"output_throughput", output_tokens / duration},
                         {"total_token_throughput", (input_tokens + output_tokens) / duration}};
  const struct {
    const char* title;
    const char* key;
    const std::vector<double>& values;
  } series[] = {{"Time to First Token", "ttft", ttft},
                {"Time per Output Token (excl. 1st token)", "tpot", tpot},
                {"Inter-token Latency", "itl", itl},
                {"End-to-end Latency", "e2el", e2e}};
  for (const auto& s : series) {
    std::printf("%s\n", ("---- " + std::string(s.title) + " ----").c_str());
    const std::string name = s.key;
    std::printf("%-40s %.2f\n", ("Mean " + name + " (ms):").c_str(), mean(s.values) * 1e3);
    json["mean_" + name + "_ms"] = mean(s.values) * 1e3;
    for (double p : {50.0, 90.0, 99.0}) {
      const double v = percentile(s.values, p) * 1e3;
      std::printf("%-40s %.2f\n", ("P" + std::to_string(int(p)) + " " + name + " (ms):").c_str(),
                  v);
      json["p" + std::to_string(int(p)) + "_" + name + "_ms"] = v;
    }
  }
  std::printf("==================================================\n");
  if (!first_error.empty())
    std::fprintf(stderr, "troupe: first failure: %s\n", first_error.c_str());
  if (auto path = flags.get("json")) {
    std::ofstream file(*path);
    if (!(file << json.dump(2) << "\n")) return input_error("cannot write --json file " + *path);
  }
  return ok == shape->num_prompts ? 0 : 1;
}

}  // namespace troupe::cli
