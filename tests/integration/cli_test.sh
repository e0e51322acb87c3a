#!/usr/bin/env bash
# The real `troupe` binary on the default model: outputs, and one-line errors with exit code 2
# for every kind of bad input. Usage: cli_test.sh path/to/troupe
set -uo pipefail
troupe=$1
failures=0
passed=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { passed=$((passed + 1)); }

# expect_error "what it should say" troupe args...: exit 2, exactly one line on stderr naming it.
expect_error() {
  local want=$1; shift
  local err rc
  err=$("$troupe" "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne 2 ]; then fail "troupe $* exited $rc, want 2 ($err)"; return; fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then fail "troupe $* printed more than one line: $err"; return; fi
  case "$err" in *"$want"*) pass ;; *) fail "troupe $* said '$err', want '$want'" ;; esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 1000 "$("$troupe" model path)" > "$tmp/truncated.gguf"
printf 'GGUF\x03\x00\x00\x00' > "$tmp/header-only.gguf"

expect_error "unknown command" frobnicate
expect_error "unknown flag '--bogus'" generate --bogus
expect_error "--prompt TEXT is required" generate
expect_error "temperature must be a number >= 0" generate --prompt hi --temperature -1
expect_error "top_p must be in (0, 1]" generate --prompt hi --top-p 1.5
expect_error "max_tokens must be >= 1" generate --prompt hi --max-tokens 0
expect_error "--max-tokens needs an integer" generate --prompt hi --max-tokens ten
expect_error "cannot open model file" generate --model "$tmp/missing.gguf" --prompt hi
expect_error "truncated" generate --model "$tmp/truncated.gguf" --prompt hi
expect_error "truncated" generate --model "$tmp/header-only.gguf" --prompt hi
printf "this is not a model, just some text\n" > "$tmp/text.gguf"
expect_error "not a GGUF file" tokenize --model "$tmp/text.gguf" hi
expect_error "no usage ledger at '$tmp/missing.db'" usage --db "$tmp/missing.db"
[ ! -e "$tmp/missing.db" ] && pass || fail "troupe usage created the missing ledger"
expect_error "'$tmp/text.gguf' is not a SQLite database" usage --db "$tmp/text.gguf"
expect_error "context" generate --prompt "$(printf 'word %.0s' $(seq 1 9000))" --max-tokens 1
# --device: every command that runs the model takes it; CUDA is not there here (no build or no
# GPU), and says so in one line. --gpu-memory-utilization is CUDA's, a share in (0, 1].
expect_error "--device must be cpu or cuda, got 'tpu'" generate --device tpu --prompt hi
for cmd in "generate --prompt hi" "chat" "serve --port 0" "worker --join 127.0.0.1:1" \
           "bench offline --num-prompts 1 --input-len 4 --output-len 4" "bench latency"; do
  # shellcheck disable=SC2086
  expect_error "--device cuda: " $cmd --device cuda
done
expect_error "flag --gpu-memory-utilization is for --device cuda" serve --gpu-memory-utilization 0.5
expect_error "flag --gpu-memory-utilization must be above 0 and at most 1, got 1.5" \
  serve --device cuda --gpu-memory-utilization 1.5
cpu=$("$troupe" generate --device cpu --temperature 0 --max-tokens 4 --prompt "The capital of France is")
[ -n "$cpu" ] && pass || fail "generate --device cpu printed nothing"

# bench/regrow_gguf.py (scripts/cpu-check): a model grown back from its header alone, with
# random weights, has the model's size, tensors and vocabulary, new bytes, and runs.
regrow="$(dirname "$0")/../../bench/regrow_gguf.py"
model=$("$troupe" model path)
if python3 "$regrow" header "$model" "$tmp/head" >/dev/null &&
   python3 "$regrow" grow "$tmp/head" "$tmp/grown.gguf" >/dev/null; then
  [ "$(stat -c %s "$tmp/grown.gguf")" = "$(stat -c %s "$model")" ] && pass || fail "the grown model's size differs"
  cmp -s "$tmp/grown.gguf" "$model" && fail "the grown model is a copy" || pass
  plan=$("$troupe" plan --model "$model" --device-memory 8GiB)
  [ -n "$plan" ] && [ "$("$troupe" plan --model "$tmp/grown.gguf" --device-memory 8GiB)" = "$plan" ] &&
    pass || fail "troupe plan differs on the grown model"
  [ "$("$troupe" tokenize --model "$tmp/grown.gguf" "Hello, world")" = "$("$troupe" tokenize "Hello, world")" ] &&
    pass || fail "the grown model tokenizes differently"
  "$troupe" generate --model "$tmp/grown.gguf" --max-tokens 4 --prompt hi >/dev/null && pass ||
    fail "generate failed on the grown model"
  fuzz=$(python3 "$(dirname "$0")/regrow_gguf_fuzz.py" "$tmp/head" 300 2>&1 >/dev/null | grep -v '^regrow_gguf: ')
  [ -z "$fuzz" ] && pass || fail "regrow_gguf on mutated headers: $fuzz"
else
  fail "bench/regrow_gguf.py could not grow the default model back"
fi
err=$(python3 "$regrow" grow "$tmp/missing.gguf" "$tmp/x.gguf" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$err" = "regrow_gguf: $tmp/missing.gguf: No such file or directory" ] && pass ||
  fail "regrow_gguf on a missing header: exit $rc, '$err'"
err=$(python3 "$regrow" grow "$tmp/truncated.gguf" "$tmp/x.gguf" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$err" = "regrow_gguf: the GGUF header is truncated" ] && pass ||
  fail "regrow_gguf on a truncated header: exit $rc, '$err'"

# tokenize agrees with the committed llama.cpp reference for a chat-looking string.
ids=$("$troupe" tokenize "<|im_start|>user")
[ "$ids" = "[1,4093]" ] && pass || fail "tokenize gave $ids, want [1,4093]"

# generate --json: every documented field, greedy and reproducible.
out1=$("$troupe" generate --json --temperature 0 --max-tokens 8 --prompt "The capital of France is")
out2=$("$troupe" generate --json --temperature 0 --max-tokens 8 --prompt "The capital of France is")
for field in text token_ids finish_reason prompt_tokens completion_tokens prompt_tok_per_s decode_tok_per_s; do
  case "$out1" in *"\"$field\""*) pass ;; *) fail "generate --json lacks $field: $out1" ;; esac
done
case "$out1" in *Paris*) pass ;; *) fail "greedy completion does not mention Paris: $out1" ;; esac
strip() { sed -E 's/"(prompt|decode)_tok_per_s":[0-9.e+-]+//g' <<<"$1"; }
[ "$(strip "$out1")" = "$(strip "$out2")" ] && pass || fail "greedy runs differ"

# Seeded sampling repeats; a stop string ends the text before it.
s1=$("$troupe" generate --seed 7 --max-tokens 12 --prompt "Once upon a time")
s2=$("$troupe" generate --seed 7 --max-tokens 12 --prompt "Once upon a time")
[ "$s1" = "$s2" ] && pass || fail "seeded runs differ: '$s1' vs '$s2'"
stopped=$("$troupe" generate --json --temperature 0 --max-tokens 16 --stop "." --prompt "The capital of France is")
case "$stopped" in *'"finish_reason":"stop"'*'"text":" Paris"'*) pass ;; *) fail "stop string: $stopped" ;; esac

# Chat with a system message answers the question.
reply=$("$troupe" generate --chat --system "You are a helpful assistant." --temperature 0 --max-tokens 24 --prompt "What is the capital of France?")
case "$reply" in *Paris*) pass ;; *) fail "chat reply: $reply" ;; esac

# `troupe chat` reads turns from standard input.
chat=$(printf 'What is the capital of France?\n/exit\n' | "$troupe" chat --system "You are a helpful assistant." --temperature 0 --max-tokens 24)
case "$chat" in *Paris*) pass ;; *) fail "troupe chat: $chat" ;; esac

# bench offline: the batching engine end to end, and its flags' errors.
"$troupe" bench offline --num-prompts 3 --input-len 8 --output-len 4 --max-num-seqs 2 --json "$tmp/bench.json" >"$tmp/bench.txt" \
  && grep -q "output tokens/s" "$tmp/bench.txt" && pass || fail "bench offline: $(cat "$tmp/bench.txt")"
for field in requests_per_s output_tok_per_s total_tok_per_s ttft_s; do
  grep -q "\"$field\"" "$tmp/bench.json" && pass || fail "bench --json lacks $field"
done
expect_error "--num-prompts N is required" bench offline --input-len 8 --output-len 4
expect_error "usage: troupe bench offline|latency|serve" bench online
expect_error "is not a size" bench offline --num-prompts 1 --input-len 8 --output-len 4 --kv-cache-memory 2GX
expect_error "raise --kv-cache-memory or lower --max-model-len" bench offline --num-prompts 1 --input-len 8 --output-len 4 --kv-cache-memory 1MiB
expect_error "max-model-len is 16" bench offline --num-prompts 1 --input-len 16 --output-len 4 --max-model-len 16
expect_error "--max-num-batched-tokens must be a positive integer" bench offline --num-prompts 1 --input-len 8 --output-len 4 --max-num-batched-tokens 0

# bench latency: llama-bench's two tests on the engine, and its flags' errors.
"$troupe" bench latency --input-len 16 --output-len 8 --rounds 1 --json "$tmp/latency.json" >"$tmp/latency.txt" \
  && grep -q "decode (8 tokens)" "$tmp/latency.txt" && grep -q '"weight_bytes_per_token"' "$tmp/latency.json" \
  && grep -Eq "weight memory read alone, after each decode round: [0-9.]+ GB/s .* decode at [0-9]+% of it" \
    "$tmp/latency.txt" \
  && python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["weight_memory_read_bytes"] > 9e7 and d["decode_of_weight_memory_read"] > 0 and len(d["weight_memory_read_bytes_per_s_rounds"]) == 1' "$tmp/latency.json" \
  && pass || fail "bench latency: $(cat "$tmp/latency.txt")"
# --depth: the decode test's O steps come after a prompt of D tokens (llama-bench's -d).
"$troupe" bench latency --input-len 16 --output-len 8 --depth 40 --rounds 1 --json "$tmp/deep.json" >"$tmp/deep.txt" \
  && grep -q "decode (8 tokens after 40)" "$tmp/deep.txt" \
  && python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["depth"] == 40 and d["decode_test_computed_tokens"] == 48 and d["decode_tok_per_s"] > 0' "$tmp/deep.json" \
  && python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["decode_test_computed_tokens"] == 8' "$tmp/latency.json" \
  && pass || fail "bench latency --depth: $(cat "$tmp/deep.txt")"
expect_error "flag --depth must be in" bench latency --depth -1
expect_error "must fit the model's context" bench latency --depth 8190 --output-len 8
expect_error "flag --rounds must be in" bench latency --rounds 0
expect_error "must fit the model's context" bench latency --input-len 900000
expect_error "not both" bench offline --num-prompts 1 --input-len 8 --output-len 4 --enable-prefix-caching --no-enable-prefix-caching

"$troupe" --help | grep -q "generate" && pass || fail "troupe --help"
"$troupe" generate --help | grep -q -- "--top-p" && pass || fail "troupe generate --help"

# The cluster commands' flag errors: one line, exit 2, before anything starts.
expect_error "--no-local-replica needs --cluster-port" serve --no-local-replica
expect_error "flag --routing must be one of round-robin, least-outstanding" serve --routing random
expect_error "flag --protect-metrics needs API keys" serve --protect-metrics
expect_error "--join HOST:PORT is required" worker
expect_error "is not a port number" worker --join host:99999
expect_error "--node NAME is required" drain
expect_error "give at least one --upstream HOST:PORT" deploy nginx
expect_error "/cluster failed: connect: Connection refused" status --url http://127.0.0.1:1
# The autoscaler's: its flags, its rules file, and where it needs a cluster port.
expect_error "flag --autoscale must be local or kubernetes, got 'k8s'" serve --autoscale k8s
expect_error "flag --min-replicas needs --autoscale local|kubernetes" serve --min-replicas 2
expect_error "--autoscale adds replicas that join this front: give --cluster-port" serve --autoscale local
expect_error "autoscaler: min replicas (3) is above max replicas (2)" serve --autoscale local --min-replicas 3 --max-replicas 2
expect_error "--autoscale kubernetes needs --kube-statefulset NAME" serve --autoscale kubernetes
expect_error "cannot read the autoscale rules file /nonexistent.yaml" serve --autoscale local --autoscale-rules /nonexistent.yaml
expect_error "flag --slo-ttft-ms must be a positive number, got '-5'" serve --autoscale local --slo-ttft-ms -5

# A server of another kind (fake_front.py): JSON fields of other types are an error of that poll or
# request, or one line with exit 2; they ended drain --wait and bench serve with an exception.
coproc FAKE { exec python3 "$(dirname "$0")/fake_front.py"; }
fake_pid=$FAKE_PID
trap 'kill "$fake_pid"; rm -rf "$tmp"' EXIT
read -r -t 30 port <&"${FAKE[0]}" || fail "fake_front.py printed no port"
fake=http://127.0.0.1:$port
# A node entry troupe cannot read: said at once (it polled until the timeout before, or took an
# entry that was not an object for a node that had left).
for shape in outstanding-a-string name-a-number node-a-string; do
  expect_error "GET /cluster answered a node troupe cannot read" drain --node n1 --wait --wait-timeout 5 --url "$fake/$shape"
done
# A /cluster troupe cannot read at all is a poll that has not finished: the timeout's message.
err=$("$troupe" drain --node n1 --wait --wait-timeout 1 --url "$fake/nodes-an-object" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$err" = "troupe: node n1 had not drained after 1 s" ] && pass ||
  fail "drain --wait on nodes of another shape: exit $rc, '$err'"
expect_error "GET /v1/models answered a list troupe cannot read; give --model" bench serve --base-url "$fake"
"$troupe" bench serve --base-url "$fake" --model m --num-prompts 2 --input-len 4 --output-len 2 \
  >"$tmp/serve.txt" 2>"$tmp/serve.err"; rc=$?
[ $rc -eq 1 ] && grep -Eq "Failed requests: +2" "$tmp/serve.txt" &&
  grep -q "first failure: an event troupe cannot read" "$tmp/serve.err" && pass ||
  fail "bench serve on events of another shape: exit $rc, $(cat "$tmp/serve.txt" "$tmp/serve.err")"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
