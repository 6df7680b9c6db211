#!/usr/bin/env python3
"""PyTorch's batch-1 greedy decoding on the MiniMind reference model with its KV cache (past_key_values,
concatenated per step), the baseline the lab's decoding is compared with. float32, eval mode, no grad.
Prints one JSON line with the decode speed and the generated ids.

    /usr/bin/python3 experiments/bench_pytorch_decode.py MODEL_DIR --prompt_ids 1,2,3 --max_new_tokens 200 --threads 2
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from minimind_torch import load_pretrained  # noqa: E402


def decode(model, prompt, max_new_tokens):
    """(tokens, prefill seconds, decode steps, decode seconds): prefill, then one token per forward."""
    start = time.perf_counter()
    logits, _, past = model(prompt, use_cache=True)
    token = logits[:, -1].argmax(-1, keepdim=True)
    prefill_s = time.perf_counter() - start
    tokens = [int(token)]
    start = time.perf_counter()
    for _ in range(max_new_tokens - 1):  # the last token is never fed back, as in the lab
        logits, _, past = model(token, past_key_values=past, use_cache=True)
        token = logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(int(token))
    return tokens, prefill_s, max_new_tokens - 1, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--prompt_ids", required=True)
    parser.add_argument("--max_new_tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup_tokens", type=int, default=8)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_pretrained(args.model_dir, torch.float32).eval()
    prompt = torch.tensor([[int(i) for i in args.prompt_ids.split(",")]], dtype=torch.long)
    with torch.inference_mode():
        decode(model, prompt, args.warmup_tokens)
        tokens, prefill_s, steps, decode_s = decode(model, prompt, args.max_new_tokens)
    print(json.dumps({"prompt_tokens": prompt.shape[1], "generated_tokens": len(tokens), "prefill_s": prefill_s,
                      "decode_steps": steps, "decode_s": decode_s, "decode_tokens_per_s": steps / decode_s,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "tokens": tokens}))


if __name__ == "__main__":
    main()
