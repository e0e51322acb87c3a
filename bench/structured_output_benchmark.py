#!/usr/bin/env python3
"""Decode speed with a JSON Schema against the same requests unconstrained (issue 21's target:
>= 95% of unconstrained), troupe and llama.cpp's llama-server side by side in one run.

  python3 bench/structured_output_benchmark.py [--troupe build/cli/troupe] [--rounds 2] [--json F]

Each server gets the same chat requests (one prompt, 128 tokens at most, streamed, temperature
1 with per-request seeds) at concurrency 1 and 32, plain and with response_format json_schema,
the two alternating within each round. Decode tok/s is completion tokens after the first over
the time from the first token to the last, summed over the requests of a run; at 32 concurrent
also output tokens over the run's wall time. The schema (a list of items with bounded strings)
keeps the answer in JSON for its whole length, so most steps are masked.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_benchmark  # noqa: E402

SCHEMA = {"type": "object", "properties": {"items": {"type": "array", "maxItems": 12, "items": {
    "type": "object", "properties": {"name": {"type": "string", "maxLength": 40},
                                     "quantity": {"type": "integer"},
                                     "note": {"type": "string", "maxLength": 80}},
    "required": ["name", "quantity", "note"], "additionalProperties": False}}},
    "required": ["items"], "additionalProperties": False}
MESSAGES = [{"role": "user", "content": "List what to pack for a picnic, as JSON."}]


def one_request(url, constrained, seed, max_tokens):
    body = {"messages": MESSAGES, "max_tokens": max_tokens, "temperature": 1.0,
            "seed": seed, "stream": True, "stream_options": {"include_usage": True}}
    if constrained:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "picnic", "schema": SCHEMA}}
    else:
        body["ignore_eos"] = True
    request = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    first = last = None
    tokens = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        for line in response:
            line = line.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            if event.get("choices") and event["choices"][0]["delta"].get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
    return tokens, (last - first) if first else 0.0


def run(url, constrained, concurrency, requests, seed, max_tokens):
    results = [None] * requests
    next_index = iter(range(requests))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                results[i] = one_request(url, constrained, seed + i, max_tokens)
            except Exception as e:  # noqa: BLE001: reported below, with the server's answer
                detail = e.read().decode()[:500] if hasattr(e, "read") else ""
                results[i] = e, detail

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for r in results:
        if isinstance(r[0], Exception):
            raise RuntimeError(f"{url}: {r[0]!r} {r[1]}")
    tokens = sum(r[0] for r in results)
    decode_tokens = sum(max(r[0] - 1, 0) for r in results)
    decode_time = sum(r[1] for r in results)
    return {"requests": requests, "concurrency": concurrency, "completion_tokens": tokens,
            "per_stream_decode_tok_per_s": decode_tokens / decode_time,
            "output_tok_per_s": tokens / wall, "wall_s": wall}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--troupe", default="build/cli/troupe")
    ap.add_argument("--model", default=os.path.expanduser(
        "~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    threads = os.cpu_count()
    servers = {"troupe": serving_benchmark.start_server(args.troupe, args.model)}
    if not args.no_peer:
        servers["llama.cpp"] = serving_benchmark.start_peer(args.model, threads)
    samples = {}
    try:
        for r in range(args.rounds):
            for name, (_, url) in servers.items():
                for concurrency, requests in ((1, 4), (32, 64)):
                    for constrained in (False, True):
                        key = f"{name} c={concurrency} {'schema' if constrained else 'plain'}"
                        print(f"round {r + 1}: {key}", flush=True)
                        samples.setdefault(key, []).append(
                            run(url, constrained, concurrency, requests, 1000 * r, args.max_tokens))
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait()
    print(f"\n{'server, concurrency':28} {'plain tok/s':>12} {'schema tok/s':>13} {'ratio':>6}   "
          "(per-stream decode; at c=32 output tok/s in brackets)")
    table = []
    for name in servers:
        for concurrency in (1, 32):
            plain = samples[f"{name} c={concurrency} plain"]
            schema = samples[f"{name} c={concurrency} schema"]
            med = lambda runs, k: statistics.median(x[k] for x in runs)  # noqa: E731
            p, s = med(plain, "per_stream_decode_tok_per_s"), med(schema, "per_stream_decode_tok_per_s")
            row = {"server": name, "concurrency": concurrency, "plain_decode": p, "schema_decode": s,
                   "ratio": s / p, "plain_output": med(plain, "output_tok_per_s"),
                   "schema_output": med(schema, "output_tok_per_s"),
                   "schema_tokens": med(schema, "completion_tokens")}
            table.append(row)
            extra = (f"   [{row['plain_output']:.1f} -> {row['schema_output']:.1f}]"
                     if concurrency > 1 else "")
            print(f"{name + ', ' + str(concurrency):28} {p:12.1f} {s:13.1f} {s / p:6.2f}{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": table, "samples": samples, "schema": SCHEMA,
                       "max_tokens": args.max_tokens, "threads": threads}, f, indent=1)


if __name__ == "__main__":
    main()
