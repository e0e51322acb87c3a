#!/usr/bin/env python3
"""Throughput of the batching engine at 1, 8, 32 and 64 concurrent sequences, and the speed-up
of prefix caching, with `troupe bench offline` (vLLM's offline throughput benchmark).

  python3 bench/offline_throughput.py [--troupe build/cli/troupe] [--json FILE]

Concurrency S: --max-num-seqs S with 2*S random prompts (4 for S=1) of --input-len tokens, each
generating exactly --output-len tokens. Output tokens/s is reported beside the single-stream rate
as a ratio (issue 3's target: 32 concurrent >= 4x single).

Prefix caching: --prefix-len 1000 shared random tokens plus 16 own tokens per prompt, one at a
time, first token only; the prompt phase (first scheduled to first token) of the requests that
find the prefix cached is compared with the same requests run with --no-enable-prefix-caching
(target >= 10x).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile


def bench(troupe, *flags):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([troupe, "bench", "offline", *map(str, flags), "--json", out.name],
                       check=True, capture_output=True, text=True)
        return json.load(open(out.name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--troupe", default="build/cli/troupe")
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--concurrency", default="1,8,32,64")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    rows = []
    for s in map(int, args.concurrency.split(",")):
        r = bench(args.troupe, "--num-prompts", max(4, 2 * s), "--input-len", args.input_len,
                  "--output-len", args.output_len, "--max-num-seqs", s)
        rows.append({"concurrency": s, **{k: r[k] for k in (
            "num_prompts", "threads", "elapsed_s", "requests_per_s", "output_tok_per_s",
            "total_tok_per_s", "preemptions")}})
    single = rows[0]["output_tok_per_s"]
    print(f"input {args.input_len} / output {args.output_len}, {rows[0]['threads']} threads")
    print("| concurrent | prompts | requests/s | output tok/s | total tok/s | vs single |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        r["vs_single"] = r["output_tok_per_s"] / single
        print(f"| {r['concurrency']} | {r['num_prompts']} | {r['requests_per_s']:.2f} | "
              f"{r['output_tok_per_s']:.1f} | {r['total_tok_per_s']:.1f} | {r['vs_single']:.2f}x |")

    prefix = ["--num-prompts", 6, "--prefix-len", 1000, "--input-len", 16, "--output-len", 1,
              "--max-num-seqs", 1]
    cached = bench(args.troupe, *prefix)
    uncached = bench(args.troupe, *prefix, "--no-enable-prefix-caching")
    hit = statistics.median(cached["prompt_phase_s"][1:])  # the first one fills the cache
    miss = statistics.median(uncached["prompt_phase_s"][1:])
    print(f"\n1,000-token shared prefix, prompt phase: cached {hit * 1e3:.1f} ms, "
          f"uncached {miss * 1e3:.1f} ms, {miss / hit:.1f}x "
          f"(prefix cache hits {cached['prefix_cache_hits']}/{cached['prefix_cache_queries']} tokens)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"input_len": args.input_len, "output_len": args.output_len,
                       "concurrency": rows,
                       "prefix": {"cached_prompt_phase_s": hit, "uncached_prompt_phase_s": miss,
                                  "speedup": miss / hit,
                                  "prefix_cache_hits": cached["prefix_cache_hits"],
                                  "prefix_cache_queries": cached["prefix_cache_queries"]}},
                      f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
