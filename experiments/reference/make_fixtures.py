"""Writes the model fixtures the C++ tests compare against: tests/fixtures/<case>/{config.json,
model.safetensors, reference.safetensors}. Weights are float32; outputs are computed in float64 from exactly
those float32 weights (training mode, dropout 0). Deterministic: every case has its own fixed seed.

Before writing, each case is checked: autograd against central finite differences in float64 on a few
gradient entries, the KV-cache path against the full forward, and (MoE) a clear top-k margin so a float32
implementation routes every token to the same experts.

    /usr/bin/python3 experiments/reference/make_fixtures.py [--out tests/fixtures] [--only CASE ...]
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from minimind_torch import MiniMindConfig, MiniMindForCausalLM, MoEFeedForward, masked_lm_loss  # noqa: E402
from safetensors_io import save  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SMALL = dict(vocab_size=97, num_hidden_layers=2, rms_norm_eps=1e-5, rope_theta=1e6, max_position_embeddings=128,
             dropout=0.0, aux_loss_alpha=0.1)

# name -> (config overrides, batch, length, seed, padded prefix of sequence 0 or 0)
CASES = {
    "dense_gqa": (dict(hidden_size=48, num_attention_heads=4, num_key_value_heads=2), 2, 9, 1001, 0),
    "dense_mha": (dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=4), 2, 8, 1002, 0),
    "moe_seq_aux": (dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
                         use_moe=True, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1,
                         seq_aux=True, norm_topk_prob=True), 2, 10, 1003, 0),
    "moe_batch_aux": (dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=1, intermediate_size=64,
                           use_moe=True, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=0,
                           seq_aux=False, norm_topk_prob=False), 2, 11, 1004, 0),
    # head_dim 24, theta 1e4, original context 16: wavelengths 6.3, 13.5, 29.2, ... so corr_dim = 2 and both
    # YaRN branches are used; 24 positions run past the original context.
    "yarn": (dict(hidden_size=48, num_attention_heads=2, num_key_value_heads=1, rope_theta=1e4,
                  max_position_embeddings=64, inference_rope_scaling=True,
                  rope_scaling=dict(beta_fast=4, beta_slow=1, factor=4, original_max_position_embeddings=16,
                                    type="yarn")), 2, 24, 1005, 0),
    "padding": (dict(hidden_size=48, num_attention_heads=4, num_key_value_heads=2), 2, 10, 1006, 3),
}

MIN_TOPK_MARGIN = 1e-3  # router probability gap between the k-th and the (k+1)-th expert, every token


def init_parameters(model, generator):
    """Scaled so activations stay O(1): linear weights with std 1/sqrt(fan_in), the (tied) embedding with std
    1/sqrt(hidden) so logits have unit scale, RMSNorm weights 1 + 0.1 * normal."""
    hidden = model.config.hidden_size
    with torch.no_grad():
        for name, parameter in model.named_parameters_untied():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.1 * noise)
            elif name == "model.embed_tokens.weight":
                parameter.copy_(noise / math.sqrt(hidden))
            else:
                parameter.copy_(noise / math.sqrt(parameter.shape[1]))


def make_batch(config, batch, length, padded_prefix, generator):
    """input_ids, targets (the next token), loss_mask with a few zeros, attention_mask or None."""
    tokens = torch.randint(3, config.vocab_size, (batch, length + 1), generator=generator)
    input_ids, targets = tokens[:, :-1].clone(), tokens[:, 1:].clone()
    loss_mask = torch.ones(batch, length)
    loss_mask[0, 1] = 0
    loss_mask[-1, -2:] = 0
    attention_mask = None
    if padded_prefix:
        attention_mask = torch.ones(batch, length, dtype=torch.int32)
        attention_mask[0, :padded_prefix] = 0
        input_ids[0, :padded_prefix] = 0
        targets[0, :padded_prefix - 1] = 0
        loss_mask[0, :padded_prefix] = 0
    return input_ids.to(torch.int32), targets.to(torch.int32), loss_mask, attention_mask


def training_loss(model, input_ids, targets, loss_mask, attention_mask):
    logits, aux_loss, _ = model(input_ids.long(), attention_mask=attention_mask)
    return masked_lm_loss(logits, targets, loss_mask.to(logits.dtype), aux_loss), logits, aux_loss


def routing_margin(model):
    """The smallest router probability gap between the k-th and the (k+1)-th expert over tokens and layers;
    0 when some expert gets no token (the fixture should exercise every expert)."""
    smallest = math.inf
    for layer in model.model.layers:
        if not isinstance(layer.mlp, MoEFeedForward):
            continue
        k = model.config.num_experts_per_tok
        ranked = layer.mlp.last_scores.sort(dim=-1, descending=True).values
        smallest = min(smallest, (ranked[:, k - 1] - ranked[:, k]).min().item())
        if layer.mlp.last_topk_idx.unique().numel() < model.config.n_routed_experts:
            smallest = 0.0
    return smallest


def check_finite_differences(model, inputs, name, step=1e-6):
    """Central differences in float64 at the largest-gradient entry of a few parameters."""
    params = dict(model.named_parameters_untied())
    chosen = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
              "model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight",
              "model.layers.0.input_layernorm.weight", "model.norm.weight"]
    chosen += [candidate for candidate in ("model.layers.1.mlp.down_proj.weight", "model.layers.0.mlp.gate.weight",
                                           "model.layers.1.mlp.experts.0.up_proj.weight",
                                           "model.layers.0.mlp.shared_experts.0.gate_proj.weight")
               if candidate in params]
    worst = 0.0
    for param_name in chosen:
        parameter = params[param_name]
        entry = parameter.grad.abs().argmax().item()
        analytic = parameter.grad.view(-1)[entry].item()
        flat = parameter.data.view(-1)
        original = flat[entry].item()
        with torch.no_grad():
            flat[entry] = original + step
            plus = training_loss(model, *inputs)[0].item()
            flat[entry] = original - step
            minus = training_loss(model, *inputs)[0].item()
            flat[entry] = original
        numeric = (plus - minus) / (2 * step)
        error = abs(numeric - analytic)
        assert error <= 1e-8 + 1e-6 * abs(analytic), (
            f"{name}: d loss / d {param_name}[{entry}]: autograd {analytic:.12e}, finite differences {numeric:.12e}")
        worst = max(worst, error / max(abs(analytic), 1e-12))
    return worst


def check_kv_cache(model, input_ids, attention_mask, name):
    """Logits of the full forward against prefill(3) + a chunk of 2 + one token at a time, eval mode."""
    model.eval()
    ids = input_ids.long()
    with torch.no_grad():
        full = model(ids, attention_mask=attention_mask)[0]
        pieces, past, position = [], None, 0
        for size in [3, 2] + [1] * (ids.shape[1] - 5):
            end = position + size
            mask = attention_mask[:, :end] if attention_mask is not None else None
            logits, _, past = model(ids[:, position:end], attention_mask=mask, past_key_values=past, use_cache=True)
            pieces.append(logits)
            position = end
        cached = torch.cat(pieces, 1)
    model.train()
    keep = torch.ones(ids.shape, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    difference = (full - cached).abs()[keep].max().item()
    assert difference < 1e-12, f"{name}: KV-cache logits differ from the full forward by {difference}"
    return difference


def make_case(name, out_dir):
    overrides, batch, length, seed, padded_prefix = CASES[name]
    config = MiniMindConfig(**{**SMALL, **overrides})
    for attempt in range(20):  # a new seed only if routing is too close to a tie for float32, or skips an expert
        generator = torch.Generator().manual_seed(seed + 100 * attempt)
        model = MiniMindForCausalLM(config)
        init_parameters(model, generator)
        input_ids, targets, loss_mask, attention_mask = make_batch(config, batch, length, padded_prefix, generator)
        weights = {key: value.detach().clone() for key, value in model.state_dict().items()}

        model64 = model.double().train()
        inputs = (input_ids, targets, loss_mask, attention_mask)
        for layer in model64.model.layers:
            layer.self_attn.keep_probs = True
        loss, logits, aux_loss = training_loss(model64, *inputs)
        margin = routing_margin(model64)
        if margin >= MIN_TOPK_MARGIN:
            break
    else:
        raise RuntimeError(f"{name}: no seed gave a top-k margin of {MIN_TOPK_MARGIN} with every expert used")
    loss.backward()
    for parameter in model64.parameters():  # an expert without tokens has a zero gradient, not None
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)

    # Saturation: the largest attention probability among query rows that see at least 4 keys, and the
    # largest next-token probability.
    attention_max = max(layer.self_attn.last_probs[:, :, 3:, :].max().item() for layer in model64.model.layers)
    token_max = torch.softmax(logits, -1).max().item()
    for layer in model64.model.layers:
        layer.self_attn.keep_probs = False

    routing = {}  # taken now: the checks below run more forwards
    for index, layer in enumerate(model64.model.layers):
        if isinstance(layer.mlp, MoEFeedForward):
            routing[f"router.layers.{index}.scores"] = layer.mlp.last_scores
            routing[f"router.layers.{index}.topk_idx"] = layer.mlp.last_topk_idx.sort(-1).values.to(torch.int32)

    fd_error = check_finite_differences(model64, inputs, name)
    kv_error = check_kv_cache(model64, input_ids, attention_mask, name)

    reference = {"input_ids": input_ids, "targets": targets, "loss_mask": loss_mask.float()}
    if attention_mask is not None:
        reference["attention_mask"] = attention_mask.to(torch.int32)
    reference["logits"] = logits.detach()
    reference["loss"] = loss.detach().reshape(())
    reference["aux_loss"] = aux_loss.detach().reshape(())
    reference["rope_cos"] = model64.model.rope_cos[:length]
    reference["rope_sin"] = model64.model.rope_sin[:length]
    reference.update(routing)
    for param_name, parameter in model64.named_parameters_untied():
        reference[f"grad.{param_name}"] = parameter.grad.detach()
    for key, value in reference.items():
        assert torch.isfinite(value.double()).all(), f"{name}: {key} is not finite"

    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    config.save(os.path.join(case_dir, "config.json"))
    save(os.path.join(case_dir, "model.safetensors"), weights, {"format": "pt"})
    save(os.path.join(case_dir, "reference.safetensors"), reference, {
        "case": name,
        "seed": str(seed + 100 * attempt),
        "made_by": "experiments/reference/make_fixtures.py",
        "loss": "sum(CE * loss_mask) / sum(loss_mask) + aux_loss; training mode, dropout 0, float64",
        "tied": "grad.model.embed_tokens.weight is the whole gradient of the tied embedding / lm_head tensor",
    })
    sizes = {file: os.path.getsize(os.path.join(case_dir, file)) for file in os.listdir(case_dir)}
    print(f"{name:14s} seed {seed + 100 * attempt} loss {loss.item():.6f} aux {aux_loss.item():.6f} logits std {logits.std().item():.3f} "
          f"max attention p {attention_max:.3f} max token p {token_max:.3f} "
          f"topk margin {margin if margin < math.inf else float('nan'):.4f} fd rel err {fd_error:.1e} "
          f"kv err {kv_error:.1e} bytes {sizes}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "fixtures"))
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="cases to write (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # same reduction order on every machine
    for name in args.only or CASES:
        make_case(name, args.out)


if __name__ == "__main__":
    main()
