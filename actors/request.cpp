#include "actors/request.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/serve/request_output.hpp"

namespace troupe {
namespace {

using Clock = std::chrono::steady_clock;

// How long at most between two looks at the deadline. A delayed message holds its receiver until
// it is delivered, and CAF 0.17 cannot take one back: one message for the whole timeout (600 s
// by default) kept every finished request's actor, about 1.5 KiB, alive that long (heaptrack on
// the soak: all 3,795 requests of 6 minutes still held; the soak's 15 MiB an hour of growth).
constexpr Clock::duration kDeadlineLook = std::chrono::seconds(2);

// When to look at the deadline next: at it, or kDeadlineLook from now if that is sooner.
Clock::duration next_look(Clock::time_point now, Clock::time_point deadline) {
  return std::min(deadline - now, kDeadlineLook);
}

struct RequestState {
  std::shared_ptr<const RequestContext> context;
  GenerateRequest request;
  caf::actor scheduler;
  caf::actor client;
  std::optional<RequestOutput> output;
  int prompt_tokens = 0;
  bool prompt_reported = false;  // the first chunk told the client the prompt's length
  bool submitted = false;
  Clock::time_point deadline{};
  static inline const char* name = "request";
};

using Self = caf::stateful_actor<RequestState>;

// Stops. Its monitors go first: CAF 0.17 leaves an observer's monitor on the observed actor
// when the observer dies, and the scheduler outlives requests by far (a client may too): each
// monitor kept the request actor's 1.5 KiB block, and its own entry, for the scheduler's life.
void stop(Self* self, caf::error reason = {}) {
  self->demonitor(self->state.client);
  self->demonitor(self->state.scheduler);
  self->quit(std::move(reason));
}

// Sends the last message and stops; an error code (request_error) when it did not complete.
void finish(Self* self, const std::string& error = {}, const std::string& message = {}) {
  auto& s = self->state;
  GenerationEnd end;
  if (s.output) end = s.output->end();
  // The prompt is owed once computed (a token came), as a client that leaves is charged; a
  // request refused (overloaded, draining, invalid) or out of time before it is owes nothing.
  if (!s.prompt_reported) end.prompt_tokens = 0;
  end.request_id = s.request.id;
  end.error = error;
  end.message = message;
  self->send(s.client, std::move(end));
  stop(self);
}

void abort_at_scheduler(Self* self) {
  if (self->state.submitted) {
    self->send(self->state.scheduler, abort_atom::value, self->state.request.id);
  }
}

caf::behavior request_actor(Self* self, std::shared_ptr<const RequestContext> context,
                            GenerateRequest request, caf::actor scheduler, caf::actor client) {
  auto& s = self->state;
  s.context = std::move(context);
  s.request = std::move(request);
  s.scheduler = std::move(scheduler);
  s.client = std::move(client);

  auto prompt = s.context->prompts.tokens(s.request);
  if (!prompt) {
    finish(self, request_error::kInvalid, prompt.message());
    return {};
  }
  // As OpenAI: a prompt must leave room for max_tokens, unless max_tokens is the whole context
  // (the API's default, "up to the end of the context"; the API refuses it given explicitly).
  const int max_len = s.context->max_model_len;
  const int prompt_len = static_cast<int>(prompt->size());
  const int wanted = s.request.sampling.max_tokens;
  if (max_len > 0 &&
      (prompt_len >= max_len || (wanted < max_len && prompt_len + wanted > max_len))) {
    finish(self, request_error::kContextLength,
           "This model's maximum context length is " + std::to_string(max_len) +
               " tokens, but you requested " + std::to_string(prompt_len + wanted) + " tokens (" +
               std::to_string(prompt_len) + " in the prompt, " + std::to_string(wanted) +
               " for the completion); shorten the prompt or lower max_tokens");
    return {};
  }
  s.prompt_tokens = static_cast<int>(prompt->size());
  s.output.emplace(s.context->model->tokenizer, s.request.id, s.request.sampling, s.prompt_tokens);
  self->monitor(s.client);
  self->monitor(s.scheduler);
  // Stopped from outside (its bridge gave up on the node): free the blocks if the node is there.
  self->set_exit_handler([self](caf::exit_msg& exit) {
    abort_at_scheduler(self);
    stop(self, std::move(exit.reason));
  });
  self->set_down_handler([self](caf::down_msg& down) {
    if (down.source == self->state.client.address()) {
      abort_at_scheduler(self);  // nobody is listening: free the blocks now
      stop(self);
      return;
    }
    finish(self, request_error::kUnavailable, "the scheduler serving this request stopped");
  });
  const auto timeout = s.request.timeout_ms > 0 ? std::chrono::milliseconds(s.request.timeout_ms)
                                                : s.context->default_timeout;
  s.deadline = Clock::now() + timeout;
  self->delayed_send(self, next_look(Clock::now(), s.deadline), deadline_atom::value);
  self->request(s.scheduler, caf::infinite, submit_atom::value,
                wire::EngineRequest{s.request.id, std::move(*prompt), s.request.sampling,
                                    s.request.priority})
      .then(
          [self](SubmitReply& reply) {
            if (reply.accepted) {
              self->state.submitted = true;
            } else {
              finish(self, reply.error, reply.message);
            }
          },
          [self](caf::error& error) {
            finish(self, request_error::kUnavailable,
                   "no scheduler took the request: " + self->system().render(error));
          });
  return {
      [self](wire::TokenDelta& delta) {
        auto& s = self->state;
        auto chunk = delta.embedding.empty() ? s.output->add(delta.index, delta.token, delta.finish)
                                             : s.output->add_embedding(std::move(delta.embedding));
        if (!s.prompt_reported) {  // a token means the prompt has been computed: it is owed
          s.prompt_reported = true;
          if (!chunk) {
            chunk.emplace();
            chunk->request_id = s.request.id;
            chunk->index = delta.index;
          }
          chunk->prompt_tokens = s.prompt_tokens;
          chunk->queue_seconds = delta.queue_seconds;
        }
        const bool sample_ended = chunk && !chunk->finish_reason.empty();
        if (chunk) self->send(s.client, std::move(*chunk));
        if (!s.output->finished()) {
          // One of n samples met a stop string: the engine stops generating it, the others go on.
          if (sample_ended && s.output->engine_runs_ended(delta.index))
            self->send(s.scheduler, abort_atom::value, s.request.id, int32_t{delta.index});
          return;
        }
        if (s.output->engine_busy()) abort_at_scheduler(self);  // ended on a stop string
        finish(self);
      },
      [self](RequestFailure& failure) { finish(self, failure.error, failure.message); },
      [self](deadline_atom) {
        const auto now = Clock::now();
        if (now < self->state.deadline) {
          self->delayed_send(self, next_look(now, self->state.deadline), deadline_atom::value);
          return;
        }
        abort_at_scheduler(self);
        finish(self, request_error::kTimeout, "the request did not finish before its deadline");
      },
  };
}

}  // namespace

caf::actor spawn_request(caf::actor_system& system, std::shared_ptr<const RequestContext> context,
                         GenerateRequest request, caf::actor scheduler, caf::actor client) {
  return system.spawn(request_actor, std::move(context), std::move(request), std::move(scheduler),
                      std::move(client));
}

}  // namespace troupe
