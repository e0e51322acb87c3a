#!/usr/bin/env python3
"""Tensor parallelism on this machine: a group of ranks (as threads, and as processes meeting in
shared memory) against one pass with the same threads in all, in one run, configurations
interleaved round by round so that all see the same machine load. `troupe bench latency` gives
prompt and decode tokens/s and the share of each step the ranks spent in their collectives.
The goal is the communication's cost, not a speed-up: on a CPU the ranks share the memory
bandwidth one pass already uses.

    python3 bench/tensor_parallel_benchmark.py [--troupe build/cli/troupe] [--rounds 3]
        [--generated /tmp/llama-1024x16.gguf] [--json bench/results-tensor-parallel.json]

The default model (9 query heads, 3 KV heads) splits over 3 ranks; the generated one (16 heads,
4 KV heads: bench/make_random_gguf.py, its defaults) over 2 and 4.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def bench(troupe, model, extra, input_len, output_len):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([troupe, "bench", "latency", "--model", model, "--input-len",
                        str(input_len), "--output-len", str(output_len), "--rounds", "1",
                        "--kv-cache-memory", "256MiB", "--json", out.name, *extra],
                       check=True, capture_output=True, text=True)
        return json.load(open(out.name))


def main():
    home = os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe"))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--troupe", default="build/cli/troupe")
    ap.add_argument("--model", default=os.path.join(home, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--generated", default="/tmp/llama-1024x16.gguf",
                    help="a generated Llama-shaped GGUF (bench/make_random_gguf.py)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--input-len", type=int, default=256)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if not os.path.exists(args.generated):
        sys.exit(f"{args.generated} is missing: make it with bench/make_random_gguf.py "
                 f"--out {args.generated}")

    t = ["--threads", str(args.threads)]
    configs = {
        "default model, 1 rank": (args.model, t),
        "default model, 3 ranks as threads": (args.model, t + ["--tensor-parallel-size", "3"]),
        "default model, 3 ranks as processes": (args.model, t + [
            "--tensor-parallel-size", "3", "--tensor-parallel-ranks", "processes"]),
        "generated, 1 rank": (args.generated, t),
        "generated, 2 ranks as threads": (args.generated, t + ["--tensor-parallel-size", "2"]),
        "generated, 2 ranks as processes": (args.generated, t + [
            "--tensor-parallel-size", "2", "--tensor-parallel-ranks", "processes"]),
        "generated, 2 ranks as processes, logits on rank 0": (args.generated, t + [
            "--tensor-parallel-size", "2", "--tensor-parallel-ranks", "processes",
            "--tensor-parallel-logits", "rank0"]),
        "generated, 4 ranks as processes": (args.generated, t + [
            "--tensor-parallel-size", "4", "--tensor-parallel-ranks", "processes"]),
    }
    runs = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, (model, extra) in configs.items():
            runs[name].append(bench(args.troupe, model, extra, args.input_len, args.output_len))

    def median(name, key):
        return statistics.median(r[key] for r in runs[name])

    results = {}
    print(f"| configuration ({args.threads} threads in all) | prompt tok/s | × one rank "
          f"| decode tok/s | × one rank | collectives, prompt step | collectives, decode step |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in configs:
        base = "default model, 1 rank" if name.startswith("default") else "generated, 1 rank"
        row = {k: median(name, k) for k in ("prompt_tok_per_s", "decode_tok_per_s",
                                            "prompt_collective_share", "decode_collective_share")}
        row["prompt_ratio"] = row["prompt_tok_per_s"] / median(base, "prompt_tok_per_s")
        row["decode_ratio"] = row["decode_tok_per_s"] / median(base, "decode_tok_per_s")
        results[name] = row
        print(f"| {name} | {row['prompt_tok_per_s']:.0f} | {row['prompt_ratio']:.2f} | "
              f"{row['decode_tok_per_s']:.1f} | {row['decode_ratio']:.2f} | "
              f"{100 * row['prompt_collective_share']:.1f}% | "
              f"{100 * row['decode_collective_share']:.1f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rounds": args.rounds, "input_len": args.input_len,
                       "output_len": args.output_len, "results": results, "runs": runs}, f,
                      indent=2)


if __name__ == "__main__":
    main()
