#include "engine/sample/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/kernel_table.hpp"

namespace troupe {
namespace {

constexpr float kGreedyTemperature = 1e-5f;  // below this, temperature sampling is greedy
constexpr size_t kLanes = 16;                // independent sums the compiler can vectorize

// The first index of the largest logit (std::max_element's answer, at the SIMD rate: one compare
// at a time, a vocabulary of 49,152 took 30-50 us, and a decode step samples every sequence).
int32_t argmax(std::span<const float> x) {
  return static_cast<int32_t>(kernels().argmax(x.data(), std::ssize(x)));
}

// The first token at which the running sum of the weights exceeds `target` (a draw from
// [0, their sum)): whole runs of 64 are skipped by their sums, then the run is walked.
int32_t token_at_mass(std::span<const float> weights, double target) {
  constexpr size_t kRun = 4 * kLanes;
  double passed = 0;
  size_t i = 0;
  for (; i + kRun <= weights.size(); i += kRun) {
    float lanes[kLanes] = {};
    for (size_t j = 0; j < kRun; ++j) lanes[j % kLanes] += weights[i + j];
    double run = 0;
    for (float l : lanes) run += l;
    if (passed + run > target) break;
    passed += run;
  }
  for (; i < weights.size(); ++i) {
    passed += weights[i];
    if (passed > target) return static_cast<int32_t>(i);
  }
  // Rounding left the target beyond the last sum: the last token with any weight.
  size_t last = weights.size();
  while (last > 0 && weights[last - 1] <= 0.0f) --last;
  return static_cast<int32_t>(last > 0 ? last - 1 : 0);
}

}  // namespace

SampledToken raw_logprobs(std::span<const float> logits, int32_t token, int n) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  const float log_z = max + static_cast<float>(std::log(sum));
  SampledToken out;
  out.token = token;
  out.logprob = logits[static_cast<size_t>(token)] - log_z;
  if (n > 0) {
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const auto k = std::min<size_t>(static_cast<size_t>(n), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                      [&](int32_t a, int32_t b) {
                        return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
                      });
    for (size_t i = 0; i < k; ++i) {
      out.top.push_back({ids[i], logits[static_cast<size_t>(ids[i])] - log_z});
    }
  }
  return out;
}

Sampler::Sampler(SamplingParams params)
    : params_(std::move(params)), rng_(params_.seed ? *params_.seed : std::random_device{}()) {}

SampledToken Sampler::sample(std::span<const float> logits, std::span<const int32_t> prompt,
                             std::span<const int32_t> output, const grammar::TokenMask* allowed) {
  const bool greedy = params_.temperature < kGreedyTemperature;
  int32_t token = 0;
  if (greedy && !changes_logits() && allowed == nullptr) {
    token = argmax(logits);  // no copy: the row as the model wrote it
  } else {
    logits_.assign(logits.begin(), logits.end());
    apply_bias_and_penalties(prompt, output);
    if (allowed != nullptr) mask_out(*allowed);
    token = greedy ? argmax(logits_) : draw();
  }
  // Log-probabilities cost a pass over the vocabulary: only when the request asks for them.
  if (params_.logprobs == 0) return SampledToken{token, 0.0f, {}};
  return raw_logprobs(logits, token, params_.logprobs);
}

void Sampler::mask_out(const grammar::TokenMask& allowed) {
  const std::vector<uint64_t>& words = allowed.words();
  const size_t n = std::min(logits_.size(), words.size() * 64);
  for (size_t w = 0; w * 64 < n; ++w) {
    if (words[w] == ~uint64_t{0}) continue;  // all 64 allowed
    for (size_t i = w * 64; i < std::min(n, w * 64 + 64); ++i) {
      if (!((words[w] >> (i % 64)) & 1)) logits_[i] = -std::numeric_limits<float>::infinity();
    }
  }
  for (size_t i = n; i < logits_.size(); ++i) logits_[i] = -std::numeric_limits<float>::infinity();
}

bool Sampler::draws_from_whole_distribution() const {
  return params_.temperature < kGreedyTemperature ||
         ((params_.top_k <= 0) && params_.top_p >= 1.0f && params_.min_p <= 0.0f);
}

bool Sampler::changes_logits() const {
  return !params_.logit_bias.empty() || params_.repetition_penalty != 1.0f ||
         params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f;
}

void Sampler::apply_bias_and_penalties(std::span<const int32_t> prompt,
                                       std::span<const int32_t> output) {
  for (const auto& [token, bias] : params_.logit_bias) logits_[static_cast<size_t>(token)] += bias;

  if (params_.repetition_penalty != 1.0f) {
    // Penalise every token seen in prompt or output once, dividing positive logits and
    // multiplying negative ones (the CTRL / Hugging Face / vLLM rule).
    std::vector<bool> seen(logits_.size(), false);
    for (auto span : {prompt, output}) {
      for (int32_t t : span) {
        if (t < 0 || static_cast<size_t>(t) >= seen.size() || seen[static_cast<size_t>(t)])
          continue;
        seen[static_cast<size_t>(t)] = true;
        float& l = logits_[static_cast<size_t>(t)];
        l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      }
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    counts_.assign(logits_.size(), 0);
    for (int32_t t : output) {
      if (t >= 0 && static_cast<size_t>(t) < counts_.size()) ++counts_[static_cast<size_t>(t)];
    }
    for (int32_t t : output) {
      int32_t& c = counts_[static_cast<size_t>(t)];
      if (c == 0) continue;  // already applied for this token
      logits_[static_cast<size_t>(t)] -=
          params_.frequency_penalty * static_cast<float>(c) + params_.presence_penalty;
      c = 0;
    }
  }
}

int32_t Sampler::draw() {
  // Softmax at the requested temperature: weights exp((l - max) / t), in place.
  const float inv_t = 1.0f / params_.temperature;
  if (inv_t != 1.0f) {
    for (float& l : logits_) l *= inv_t;
  }
  const float max = logits_[static_cast<size_t>(argmax(logits_))];
  if (max == -std::numeric_limits<float>::infinity()) return 0;  // every token banned by bias
  const double sum = kernels().exp_shifted_sum(logits_.data(), std::ssize(logits_), max);
  const bool whole_distribution =
      (params_.top_k <= 0 || static_cast<size_t>(params_.top_k) >= logits_.size()) &&
      params_.top_p >= 1.0f && params_.min_p <= 0.0f;
  if (whole_distribution) {
    return token_at_mass(logits_, std::uniform_real_distribution<double>(0.0, sum)(rng_));
  }

  candidates_.clear();
  for (size_t i = 0; i < logits_.size(); ++i) {
    if (logits_[i] > 0.0f) {
      candidates_.emplace_back(static_cast<float>(logits_[i] / sum), static_cast<int32_t>(i));
    }
  }
  const auto by_probability = [](const auto& a, const auto& b) { return a.first > b.first; };

  // top-k: keep the k most likely.
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < candidates_.size()) {
    std::nth_element(candidates_.begin(), candidates_.begin() + params_.top_k - 1,
                     candidates_.end(), by_probability);
    candidates_.resize(static_cast<size_t>(params_.top_k));
  }
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
    std::sort(candidates_.begin(), candidates_.end(), by_probability);
  }

  // top-p: the smallest most-likely prefix whose mass reaches top_p.
  if (params_.top_p < 1.0f) {
    double mass = 0;
    double total = 0;
    for (const auto& c : candidates_) total += c.first;
    size_t keep = 0;
    while (keep < candidates_.size()) {
      mass += candidates_[keep++].first;
      if (mass >= params_.top_p * total) break;
    }
    candidates_.resize(std::max<size_t>(keep, 1));
  }
  // min-p: drop tokens less likely than min_p times the most likely one.
  if (params_.min_p > 0.0f) {
    const float floor = params_.min_p * candidates_.front().first;
    size_t keep = 1;
    while (keep < candidates_.size() && candidates_[keep].first >= floor) ++keep;
    candidates_.resize(keep);
  }

  double total = 0;
  for (const auto& c : candidates_) total += c.first;
  const double target = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double acc = 0;
  for (const auto& c : candidates_) {
    acc += c.first;
    if (acc > target) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace troupe
