#!/usr/bin/env python3
"""Side by side, in one run: a training step (forward, backward, AdamW) of the lab and of PyTorch on the
same configuration, batch and sequence length, with the same number of threads.

    python3 experiments/compare_train_step.py --threads 2            # tiny-like and small, as in docs/
    python3 experiments/compare_train_step.py --case tiny --steps 3

Runs build/app/minimind bench --json and experiments/bench_pytorch_train_step.py; prints one table.
"""
import argparse
import json
import os
import subprocess
import sys

from bench_common import run_json  # noqa: E402 (beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    # name: (model flags, batch, seq_len)
    "tiny": (dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                  vocab_size=6400), 8, 256),
    "small": (dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                   vocab_size=6400), 32, 512),
    "moe": (dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                 vocab_size=6400, use_moe=True), 8, 512),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="default: tiny and small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--minimind", default=os.path.join(ROOT, "build", "app", "minimind"))
    parser.add_argument("--python", default="/usr/bin/python3", help="the Python that has torch")
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    rows = []
    for name in args.case or ["tiny", "small"]:
        model, batch, seq_len = CASES[name]
        flags = [f"--{k}" if v is True else f"--{k}={v}" for k, v in model.items()]
        common = [f"--batch_size={batch}", f"--seq_len={seq_len}", f"--steps={args.steps}",
                  f"--warmup={args.warmup}", f"--threads={args.threads}"]
        lab = run_json([args.minimind, "bench", "--json", *flags, *common], env)
        torch = run_json([args.python, os.path.join(ROOT, "experiments", "bench_pytorch_train_step.py"),
                          *flags, *common], env)
        rows.append((name, batch, seq_len, lab, torch))

    print(f"training step, {args.threads} threads, median of {args.steps} steps after {args.warmup} warm-up")
    print(f"{'case':6} {'batch x len':>12} | {'lab tok/s':>10} {'GFLOP/s':>8} {'peak MiB':>9} | "
          f"{'torch tok/s':>11} {'GFLOP/s':>8} | {'speed-up':>8}")
    for name, batch, seq_len, lab, torch in rows:
        print(f"{name:6} {f'{batch} x {seq_len}':>12} | {lab['tokens_per_s']:10.1f} {lab['gflops']:8.1f} "
              f"{lab['peak_memory_bytes'] / 2**20:9.0f} | {torch['tokens_per_s']:11.1f} {torch['gflops']:8.1f} | "
              f"{lab['tokens_per_s'] / torch['tokens_per_s']:7.2f}x")


if __name__ == "__main__":
    main()
