#!/usr/bin/env python3
"""Prompt and decode speed of `troupe generate` beside llama.cpp's llama-bench: same model file,
same thread count, interleaved in one run so both see the same machine load.

  source bench/peers/env   # after bench/peers/setup
  python3 bench/generate_vs_llama_bench.py [--threads 2] [--rounds 3] [--troupe build/cli/troupe]

llama-bench reports pp (prompt tokens/s, a random-token prompt of --prompt-tokens) and tg (decode
tokens/s); troupe generate --json reports the same two rates for a prompt of about the same
length, greedy, --ignore-eos so every run decodes --decode-tokens tokens. Medians are printed with
the troupe/llama.cpp ratio, and written as JSON with --json FILE.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

PROMPT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden screw press into a system that could "
    "produce books faster and more cheaply than any scribe. Within a few decades, presses had "
    "spread to hundreds of cities across Europe, and the number of books in circulation grew from "
    "thousands to millions. Scholars could compare identical copies of a text, which changed how "
    "knowledge was checked, shared and argued about. Religious reformers printed pamphlets, "
    "merchants printed price lists, and governments printed laws, so that reading became a skill "
    "that ordinary people needed in daily life."
)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    home = os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--troupe", default="build/cli/troupe")
    ap.add_argument("--llama-bench", default=os.environ.get("LLAMA_BENCH"))
    ap.add_argument("--model", default=os.path.join(home, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--json", help="write the medians here")
    args = ap.parse_args()
    if not args.llama_bench:
        sys.exit("llama-bench not found: run bench/peers/setup, then source bench/peers/env")

    prompt_tokens = len(run_json([args.troupe, "tokenize", "--model", args.model, PROMPT]))
    results = {"troupe_pp": [], "troupe_tg": [], "llama_pp": [], "llama_tg": []}
    for _ in range(args.rounds):
        llama = run_json([args.llama_bench, "-m", args.model, "-t", str(args.threads),
                          "-p", str(prompt_tokens), "-n", str(args.decode_tokens), "-r", "1",
                          "-o", "json"])
        for test in llama:
            key = "llama_pp" if test["n_prompt"] > 0 else "llama_tg"
            results[key].append(test["avg_ts"])
        ours = run_json([args.troupe, "generate", "--json", "--model", args.model,
                         "--threads", str(args.threads), "--temperature", "0", "--ignore-eos",
                         "--max-tokens", str(args.decode_tokens), "--prompt", PROMPT])
        results["troupe_pp"].append(ours["prompt_tok_per_s"])
        results["troupe_tg"].append(ours["decode_tok_per_s"])

    med = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "threads": args.threads, "prompt_tokens": prompt_tokens,
        "decode_tokens": args.decode_tokens, "rounds": args.rounds,
        "prompt_tok_per_s": {"troupe": med["troupe_pp"], "llama.cpp": med["llama_pp"],
                             "ratio": med["troupe_pp"] / med["llama_pp"]},
        "decode_tok_per_s": {"troupe": med["troupe_tg"], "llama.cpp": med["llama_tg"],
                             "ratio": med["troupe_tg"] / med["llama_tg"]},
        "samples": results,
    }
    print(f"{'':8} {'troupe':>10} {'llama.cpp':>10} {'ratio':>7}   (tokens/s, median of {args.rounds}, "
          f"{args.threads} threads, {prompt_tokens}-token prompt, {args.decode_tokens} decoded)")
    for name, key in (("prompt", "prompt_tok_per_s"), ("decode", "decode_tok_per_s")):
        s = summary[key]
        print(f"{name:8} {s['troupe']:10.1f} {s['llama.cpp']:10.1f} {s['ratio']:7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
