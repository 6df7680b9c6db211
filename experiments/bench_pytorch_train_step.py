"""PyTorch's training step on the MiniMind reference model, the baseline the lab's step is compared with:
forward + masked loss (+ MoE aux loss) + backward + AdamW step, training mode, float32, random tokens.
Prints one JSON line.

    /usr/bin/python3 experiments/bench_pytorch_train_step.py --hidden_size 256 --num_hidden_layers 4 \\
        --batch_size 8 --seq_len 256 --steps 2 --warmup 1 --threads 2
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from minimind_torch import MiniMindConfig, MiniMindForCausalLM, masked_lm_loss  # noqa: E402


def matmul_parameters_per_token(config):
    """Weights each token multiplies with: attention projections, the FFN it runs (for MoE: the router, k
    routed experts and the shared experts) and lm_head. The embedding lookup and RMSNorm weights do no
    matmul work."""
    hidden, head_dim = config.hidden_size, config.head_dim
    attention = hidden * head_dim * (2 * config.num_attention_heads + 2 * config.num_key_value_heads)
    ffn = 3 * hidden * config.intermediate_size
    if config.use_moe:
        ffn = (config.n_routed_experts * hidden
               + (config.num_experts_per_tok + config.n_shared_experts) * ffn)
    return config.num_hidden_layers * (attention + ffn) + hidden * config.vocab_size


def flops_per_token(config, seq_len):
    # 6 FLOPs per matmul weight per token (2 forward, 4 backward), plus attention scores and the weighted sum
    # of values: 6 * layers * hidden * seq_len, i.e. half of the 12 * L * H * T of the full (non-causal)
    # formula, since a causal query sees on average half of the keys.
    return 6 * matmul_parameters_per_token(config) + 6 * config.num_hidden_layers * config.hidden_size * seq_len


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden_size", type=int, default=512)
    parser.add_argument("--num_hidden_layers", type=int, default=8)
    parser.add_argument("--num_attention_heads", type=int, default=8)
    parser.add_argument("--num_key_value_heads", type=int, default=2)
    parser.add_argument("--vocab_size", type=int, default=6400)
    parser.add_argument("--use_moe", action="store_true")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 keeps the default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = MiniMindConfig(hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
                            num_attention_heads=args.num_attention_heads,
                            num_key_value_heads=args.num_key_value_heads, vocab_size=args.vocab_size,
                            use_moe=args.use_moe, max_position_embeddings=max(args.seq_len, 32768))
    model = MiniMindForCausalLM(config).train()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0.0, 0.02)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    tokens = torch.randint(0, config.vocab_size, (args.batch_size, args.seq_len + 1))
    input_ids, targets = tokens[:, :-1], tokens[:, 1:]
    loss_mask = torch.ones(args.batch_size, args.seq_len)

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits, aux_loss, _ = model(input_ids)
        loss = masked_lm_loss(logits, targets, loss_mask, aux_loss)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    step_s = (time.perf_counter() - start) / max(args.steps, 1)
    tokens_per_s = args.batch_size * args.seq_len / step_s
    print(json.dumps({
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads, "num_key_value_heads": config.num_key_value_heads,
        "vocab_size": config.vocab_size, "use_moe": config.use_moe,
        "batch_size": args.batch_size, "seq_len": args.seq_len, "steps": args.steps,
        "loss": round(loss, 6) if args.steps else None,
        "tokens_per_s": round(tokens_per_s, 2),
        "step_s": round(step_s, 6),
        # achieved GFLOP/s: flops_per_token * tokens_per_s / 1e9
        "gflops": round(flops_per_token(config, args.seq_len) * tokens_per_s / 1e9, 3),
    }))


if __name__ == "__main__":
    main()
