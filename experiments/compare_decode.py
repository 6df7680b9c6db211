#!/usr/bin/env python3
"""Side by side, in one run: batch-1 greedy decoding tokens/s of the lab (minimind generate --benchmark) and
of PyTorch (experiments/bench_pytorch_decode.py, the reference model with its KV cache), on the same freshly
initialised model, prompt ids and thread count. Also reports how many of the greedy ids agree (float32 both
sides, so a near-tie may split them late in a long run).

    python3 experiments/compare_decode.py                      # tiny-like model, 2 threads, 200 tokens
    python3 experiments/compare_decode.py --threads 1 --max_new_tokens 500 --repeats 5

The figure is the median decode speed over --repeats runs (prefill excluded: one token per forward).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench_common import run_json  # noqa: E402 (beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2, vocab_size=6400)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_new_tokens", type=int, default=200)
    parser.add_argument("--prompt_len", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minimind", default=os.path.join(ROOT, "build", "app", "minimind"))
    parser.add_argument("--python", default="/usr/bin/python3", help="the Python that has torch")
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    prompt_ids = ",".join(str(3 + (i * 37) % 6000) for i in range(args.prompt_len))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        flags = [f"--{k}={v}" for k, v in TINY.items()]
        subprocess.run([args.minimind, "init", "--preset", "tiny", *flags, "--seed", "0", "--out", model_dir],
                       check=True, capture_output=True, env=env)
        common = [f"--prompt_ids={prompt_ids}", f"--max_new_tokens={args.max_new_tokens}", f"--threads={args.threads}"]
        lab_runs, torch_runs = [], []
        for _ in range(args.repeats):  # interleaved, so drift in the machine's load hits both alike
            lab_runs.append(run_json([args.minimind, "generate", "--model", model_dir, "--greedy", "--ignore_eos",
                                      "--benchmark", *common], env))
            torch_runs.append(run_json([args.python, os.path.join(ROOT, "experiments", "bench_pytorch_decode.py"),
                                        model_dir, *common], env))

    lab = statistics.median(r["decode_tokens_per_s"] for r in lab_runs)
    torch = statistics.median(r["decode_tokens_per_s"] for r in torch_runs)
    lab_tokens, torch_tokens = lab_runs[0]["tokens"], torch_runs[0]["tokens"]
    agree = next((i for i, (a, b) in enumerate(zip(lab_tokens, torch_tokens)) if a != b), len(lab_tokens))
    print(f"batch-1 greedy decoding, tiny-like model (hidden 256, 4 layers, 8 heads, 2 KV heads, vocab 6400), "
          f"{args.threads} threads, prompt {args.prompt_len} tokens, {args.max_new_tokens} new tokens, "
          f"median of {args.repeats}")
    print(f"{'':8} {'tokens/s':>10} {'ms/token':>9} {'prefill ms':>11}")
    for name, value, runs in (("lab", lab, lab_runs), (f"torch {torch_runs[0]['torch']}", torch, torch_runs)):
        prefill = statistics.median(r["prefill_s"] for r in runs) * 1e3
        print(f"{name:8} {value:10.1f} {1e3 / value:9.3f} {prefill:11.2f}")
    print(f"speed-up {lab / torch:.1f}x; greedy ids agree for the first {agree} of {len(lab_tokens)} tokens")


if __name__ == "__main__":
    main()
