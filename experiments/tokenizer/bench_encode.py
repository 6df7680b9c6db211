#!/usr/bin/env python3
"""Encoding speed, side by side on one thread: Hugging Face tokenizers (Rust, through its Python binding) and
the lab's tokenizer (build/experiments/tokenizer_bench), over the same text and tokenizer.json.

Two ways of encoding, each measured for both:
  whole  the text as one sequence (tokenizer.encode(text) -- single-threaded in tokenizers by nature)
  lines  the text cut at "\\n", as a batch of lines (encode_batch and encode_batch_fast, the latter without
         offsets, with RAYON_NUM_THREADS=1 so that tokenizers uses one thread)
The fair figure is "whole" against "whole" and "lines" against tokenizers' best line mode: both sides then
produce the same ids from the same bytes on one core. Each run starts from a freshly loaded tokenizer (an
empty word cache) and the best of --runs is kept. The token counts are compared, as a check that both sides
encode alike.

Usage:
  python3 experiments/tokenizer/bench_encode.py [--text FILE] [--tokenizer tokenizer.json]
      [--bench build/experiments/tokenizer_bench] [--runs 3] [--megabytes 4]
Without --text, the texts of tests/fixtures/tokenizer/minimind_encodings.json are joined by newlines and
repeated up to --megabytes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TOKENIZER = os.path.join(ROOT, "..", "shared", "reference", "minimind-tokenizer", "tokenizer.json")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "minimind_encodings.json")


def fixture_text(megabytes):
    with open(FIXTURE, encoding="utf-8") as f:
        texts = [entry["text"] for entry in json.load(f)["encodings"]]
    block = "\n".join(texts) + "\n"
    repeats = max(1, int(megabytes * 1e6 / len(block.encode("utf-8"))))
    return block * repeats


def best_of(runs, function):
    best = float("inf")
    result = None
    for _ in range(runs):
        seconds, result = function()
        best = min(best, seconds)
    return best, result


def hugging_face(tokenizer_path, text, runs):
    lines = text.split("\n")
    figures = {}

    def whole():
        tokenizer = Tokenizer.from_file(tokenizer_path)
        start = time.perf_counter()
        ids = tokenizer.encode(text).ids
        return time.perf_counter() - start, len(ids)

    def batch(method):
        def run():
            tokenizer = Tokenizer.from_file(tokenizer_path)
            encode = getattr(tokenizer, method)
            start = time.perf_counter()
            encodings = encode(lines)
            seconds = time.perf_counter() - start
            return seconds, sum(len(e.ids) for e in encodings)
        return run

    figures["whole"] = best_of(runs, whole)
    figures["lines (encode_batch)"] = best_of(runs, batch("encode_batch"))
    if hasattr(Tokenizer, "encode_batch_fast"):
        figures["lines (encode_batch_fast)"] = best_of(runs, batch("encode_batch_fast"))
    return figures


def ours(bench, tokenizer_path, text_path, runs, lines):
    command = [bench, tokenizer_path, text_path, "--runs", str(runs)] + (["--lines"] if lines else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result["seconds"], result["tokens"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", help="a UTF-8 text file (default: the fixture texts, repeated)")
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "experiments", "tokenizer_bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=4.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        if args.text:
            text_path = args.text
            with open(text_path, encoding="utf-8") as f:
                text = f.read()
        else:
            text = fixture_text(args.megabytes)
            text_path = os.path.join(scratch, "text.txt")
            with open(text_path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        size = len(text.encode("utf-8"))

        hf = hugging_face(args.tokenizer, text, args.runs)
        lab = {"whole": ours(args.bench, args.tokenizer, text_path, args.runs, False),
               "lines": ours(args.bench, args.tokenizer, text_path, args.runs, True)}

    print(f"text: {args.text or 'fixture texts, repeated'} ({size / 1e6:.2f} MB); one thread each; "
          f"best of {args.runs} runs from a cold cache")
    print(f"{'encoder':<44} {'MB/s':>8} {'tokens/s':>12} {'tokens':>10}")
    rows = [("tokenizers " + name, seconds, tokens) for name, (seconds, tokens) in hf.items()]
    rows += [("lab tokenizer " + name, seconds, tokens) for name, (seconds, tokens) in lab.items()]
    for name, seconds, tokens in rows:
        print(f"{name:<44} {size / seconds / 1e6:>8.2f} {tokens / seconds:>12.0f} {tokens:>10}")
    best_hf_lines = min(seconds for name, (seconds, _) in hf.items() if name.startswith("lines"))
    print(f"speed-up, whole text: {hf['whole'][0] / lab['whole'][0]:.1f}x; "
          f"lines: {best_hf_lines / lab['lines'][0]:.1f}x against tokenizers' faster line mode")
    if hf["whole"][1] != lab["whole"][1] or hf["lines (encode_batch)"][1] != lab["lines"][1]:
        print("token counts differ between tokenizers and the lab tokenizer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
