"""The MiniMind network in plain PyTorch: the independent reference the lab's engine is compared against.

It follows the semantics of the seed's model_minimind.py (jingyaogong/minimind) with the seed's parameter
names, so a model.safetensors moves between this file and the lab unchanged. Where the seed only works in
float32 (RMSNorm and the attention softmax call .float()), this file computes in float32 *or wider*, so a
model.double() is exact in double; that is what the fixtures are made with. Two more differences from the
seed, both deliberate: the RoPE tables are computed in float64 (the seed computes them in float32, off by up
to ~1e-7 * angle), and with inference_rope_scaling a rope_scaling dict in config.json overrides the YaRN
defaults key by key (the seed ignores it), so small test models can turn YaRN on.
"""

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from safetensors_io import load as load_safetensors

DEFAULT_ROPE_SCALING = {
    "beta_fast": 4,
    "beta_slow": 1,
    "factor": 4,
    "original_max_position_embeddings": 2048,
    "type": "yarn",
}


@dataclass
class MiniMindConfig:
    hidden_size: int = 512
    num_hidden_layers: int = 8
    num_attention_heads: int = 8
    num_key_value_heads: int = 2
    vocab_size: int = 6400
    intermediate_size: Optional[int] = None  # None: 8/3 of hidden, rounded up to a multiple of 64
    max_position_embeddings: int = 32768
    rms_norm_eps: float = 1e-5
    rope_theta: float = 1e6
    inference_rope_scaling: bool = False
    rope_scaling: Optional[dict] = None  # filled with DEFAULT_ROPE_SCALING when inference_rope_scaling is on
    dropout: float = 0.0
    flash_attn: bool = True
    bos_token_id: int = 1
    eos_token_id: int = 2
    hidden_act: str = "silu"
    tie_word_embeddings: bool = True
    use_moe: bool = False
    num_experts_per_tok: int = 2
    n_routed_experts: int = 4
    n_shared_experts: int = 1
    scoring_func: str = "softmax"
    aux_loss_alpha: float = 0.1
    seq_aux: bool = True
    norm_topk_prob: bool = True
    model_type: str = field(default="minimind")

    def __post_init__(self):
        if self.intermediate_size is None:
            derived = int(self.hidden_size * 8 / 3)
            self.intermediate_size = 64 * ((derived + 64 - 1) // 64)
        if self.inference_rope_scaling:
            # The seed hard-codes this dict; here a rope_scaling from config.json overrides the defaults key
            # by key, so small test models can make YaRN active.
            self.rope_scaling = {**DEFAULT_ROPE_SCALING, **(self.rope_scaling or {})}
        else:
            self.rope_scaling = None
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                             f"{self.num_attention_heads}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads {self.num_key_value_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for RoPE")
        if self.hidden_act != "silu":
            raise ValueError(f"hidden_act {self.hidden_act!r}: only 'silu' is implemented")
        if self.use_moe and self.scoring_func != "softmax":
            raise ValueError(f"scoring_func {self.scoring_func!r}: only 'softmax' is implemented")

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Known keys only; transformers adds many others (architectures, torch_dtype, ...)."""
        known = {key: value for key, value in values.items() if key in cls.__dataclass_fields__}
        if known.get("model_type", "minimind") != "minimind":
            raise ValueError(f"model_type {known['model_type']!r}, expected 'minimind'")
        return cls(**known)

    @classmethod
    def load(cls, path):
        with open(path) as file:
            return cls.from_dict(json.load(file))

    def save(self, path):
        values = {"architectures": ["MiniMindForCausalLM"], **self.to_dict()}
        with open(path, "w") as file:
            json.dump(values, file, indent=2)
            file.write("\n")


def _at_least_float32(x):
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class RMSNorm(nn.Module):
    """weight * (x * rsqrt(mean(x^2) + eps)), the normalization computed in float32 or wider."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        wide = _at_least_float32(x)
        normed = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.type_as(x)


def rope_frequencies(head_dim, length, rope_theta, rope_scaling=None):
    """Inverse frequencies [head_dim/2] in float64 for a table of `length` positions, YaRN-rescaled when
    rope_scaling is given and length exceeds its original_max_position_embeddings."""
    half = head_dim // 2
    freqs = 1.0 / (rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64)[:half] / head_dim))
    if rope_scaling is not None:
        orig_max = rope_scaling["original_max_position_embeddings"]
        factor, beta_fast, beta_slow = rope_scaling["factor"], rope_scaling["beta_fast"], rope_scaling["beta_slow"]
        if length / orig_max > 1.0:
            # Dimensions whose wavelength fits in the original context are interpolated with a ramped beta;
            # the rest (from corr_dim on) are divided by the factor.
            corr_dim = next((i for i in range(half) if 2 * math.pi / freqs[i] > orig_max), half)
            power = torch.arange(half, dtype=torch.float64) / max(half - 1, 1)
            beta = beta_slow + (beta_fast - beta_slow) * power
            scale = torch.where(torch.arange(half) < corr_dim, (beta * factor - beta + 1) / (beta * factor),
                                torch.full_like(beta, 1.0 / factor))
            freqs = freqs * scale
    return freqs


def rope_tables(head_dim, length, rope_theta, rope_scaling=None):
    """cos, sin [length, head_dim] in float64: angle(p, i) = p * freqs[i mod head_dim/2]."""
    freqs = rope_frequencies(head_dim, length, rope_theta, rope_scaling)
    angles = torch.outer(torch.arange(length, dtype=torch.float64), freqs)
    return torch.cat([angles.cos(), angles.cos()], -1), torch.cat([angles.sin(), angles.sin()], -1)


def apply_rope(x, cos, sin):
    """x [B, T, heads, d]; cos, sin [T, d]. Pairs dimension i with i + d/2 (rotate_half)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


class Attention(nn.Module):
    """Causal grouped-query attention: query head h reads key/value head h // (Hq / Hkv)."""

    def __init__(self, config):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.dropout = config.dropout
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=False)
        self.keep_probs = False  # when set, the last softmax [B, Hq, T, S] is kept in last_probs
        self.last_probs = None

    def forward(self, x, cos, sin, past_key_value=None, use_cache=False, attention_mask=None):
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.num_heads, self.head_dim)
        k = self.k_proj(x).view(batch, length, self.num_kv_heads, self.head_dim)
        v = self.v_proj(x).view(batch, length, self.num_kv_heads, self.head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past_key_value is not None:
            k = torch.cat([past_key_value[0], k], 1)
            v = torch.cat([past_key_value[1], v], 1)
        present = (k, v) if use_cache else None

        group = self.num_heads // self.num_kv_heads
        q = q.transpose(1, 2)                                     # [B, Hq, T, d]
        k = k.repeat_interleave(group, dim=2).transpose(1, 2)     # [B, Hq, S, d]
        v = v.repeat_interleave(group, dim=2).transpose(1, 2)
        keys = k.shape[2]
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        # Query t sits at position keys - length + t and sees keys up to and including that position.
        visible = torch.ones(length, keys, dtype=torch.bool, device=x.device).tril(diagonal=keys - length)
        scores = scores.masked_fill(~visible, float("-inf"))
        if attention_mask is not None:  # [B, S], 1 keep, 0 padding
            scores = scores + (1.0 - attention_mask[:, None, None, :].to(scores.dtype)) * -1e9
        probs = F.softmax(_at_least_float32(scores), dim=-1).type_as(q)
        if self.keep_probs:
            self.last_probs = probs.detach()
        probs = F.dropout(probs, self.dropout, self.training)
        out = (probs @ v).transpose(1, 2).reshape(batch, length, -1)
        return F.dropout(self.o_proj(out), self.dropout, self.training), present


class FeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), then dropout."""

    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.dropout = config.dropout

    def forward(self, x):
        out = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return F.dropout(out, self.dropout, self.training)


class MoEFeedForward(nn.Module):
    """Top-k routed experts plus always-on shared experts. The router's softmax scores, its top-k (renormalized
    when norm_topk_prob and k > 1) and, in training, the load-balancing loss kept in self.aux_loss."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.gate = nn.Linear(config.hidden_size, config.n_routed_experts, bias=False)  # mlp.gate.weight [E, H]
        self.experts = nn.ModuleList([FeedForward(config) for _ in range(config.n_routed_experts)])
        if config.n_shared_experts > 0:
            self.shared_experts = nn.ModuleList([FeedForward(config) for _ in range(config.n_shared_experts)])
        self.aux_loss = None
        self.last_scores = None    # [B*T, E] and [B*T, k] of the last forward, for load statistics
        self.last_topk_idx = None

    def route(self, flat):
        """(scores [N, E], topk_weight [N, k], topk_idx [N, k]) for tokens flat [N, H]."""
        config = self.config
        scores = F.softmax(self.gate(flat), dim=-1)
        topk_weight, topk_idx = torch.topk(scores, k=config.num_experts_per_tok, dim=-1, sorted=False)
        if config.num_experts_per_tok > 1 and config.norm_topk_prob:
            topk_weight = topk_weight / (topk_weight.sum(dim=-1, keepdim=True) + 1e-20)
        return scores, topk_weight, topk_idx

    def load_balancing_loss(self, scores, topk_idx, batch, length):
        config = self.config
        experts, k = config.n_routed_experts, config.num_experts_per_tok
        if config.seq_aux:
            # Per sequence: the fraction of routed slots each expert got (scaled so uniform is 1) times its
            # mean score, summed over experts, averaged over sequences.
            counts = torch.zeros(batch, experts, dtype=scores.dtype, device=scores.device)
            counts.scatter_add_(1, topk_idx.view(batch, -1),
                                torch.ones(batch, length * k, dtype=scores.dtype, device=scores.device))
            load = counts / (length * k / experts)
            return (load * scores.view(batch, length, experts).mean(1)).sum(1).mean() * config.aux_loss_alpha
        # Over the whole batch: fraction of all routed slots per expert, times E, dot the mean scores.
        load = F.one_hot(topk_idx.reshape(-1), num_classes=experts).to(scores.dtype).mean(0) * experts
        return (scores.mean(0) * load).sum() * config.aux_loss_alpha

    def forward(self, x):
        batch, length, hidden = x.shape
        flat = x.reshape(-1, hidden)
        scores, topk_weight, topk_idx = self.route(flat)
        self.last_scores, self.last_topk_idx = scores.detach(), topk_idx.detach()
        if self.training and self.config.aux_loss_alpha > 0:
            self.aux_loss = self.load_balancing_loss(scores, topk_idx, batch, length)
        else:
            self.aux_loss = scores.new_zeros(())
        out = torch.zeros_like(flat)
        for expert_id, expert in enumerate(self.experts):
            token_ids, slots = (topk_idx == expert_id).nonzero(as_tuple=True)
            if token_ids.numel() == 0:
                continue
            weighted = expert(flat[token_ids]) * topk_weight[token_ids, slots].unsqueeze(-1)
            out = out.index_add(0, token_ids, weighted)
        out = out.view(batch, length, hidden)
        for expert in getattr(self, "shared_experts", []):
            out = out + expert(x)
        return out


class MiniMindBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self_attn = Attention(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MoEFeedForward(config) if config.use_moe else FeedForward(config)

    def forward(self, x, cos, sin, past_key_value=None, use_cache=False, attention_mask=None):
        attended, present = self.self_attn(self.input_layernorm(x), cos, sin, past_key_value, use_cache,
                                           attention_mask)
        h = x + attended
        return h + self.mlp(self.post_attention_layernorm(h)), present


class MiniMindModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([MiniMindBlock(config) for _ in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        # Plain float64 attributes, not buffers: .float() / .double() must not round them, and they are not
        # part of the state dict (the seed keeps them as non-persistent buffers).
        self.rope_cos, self.rope_sin = rope_tables(config.head_dim, config.max_position_embeddings,
                                                   config.rope_theta, config.rope_scaling)

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=False):
        """(hidden [B, T, H], presents, aux_loss []) for input_ids [B, T] at positions start_pos + t, where
        start_pos is the length of the cache."""
        length = input_ids.shape[1]
        start_pos = past_key_values[0][0].shape[1] if past_key_values else 0
        if start_pos + length > self.config.max_position_embeddings:
            raise ValueError(f"positions up to {start_pos + length} exceed max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        h = F.dropout(self.embed_tokens(input_ids), self.config.dropout, self.training)
        cos = self.rope_cos[start_pos:start_pos + length].to(device=h.device, dtype=h.dtype)
        sin = self.rope_sin[start_pos:start_pos + length].to(device=h.device, dtype=h.dtype)
        presents = []
        for index, layer in enumerate(self.layers):
            past = past_key_values[index] if past_key_values else None
            h, present = layer(h, cos, sin, past, use_cache, attention_mask)
            presents.append(present)
        aux_loss = h.new_zeros(())
        for layer in self.layers:
            if isinstance(layer.mlp, MoEFeedForward):
                aux_loss = aux_loss + layer.mlp.aux_loss
        return self.norm(h), presents, aux_loss


class MiniMindForCausalLM(nn.Module):
    """Parameters model.* and lm_head.weight; with tie_word_embeddings the head and the embedding are one
    tensor that appears under both names in the state dict."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.model = MiniMindModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.model.embed_tokens.weight = self.lm_head.weight

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=False):
        """(logits [B, T, V], aux_loss [], presents)."""
        hidden, presents, aux_loss = self.model(input_ids, attention_mask, past_key_values, use_cache)
        return self.lm_head(hidden), aux_loss, presents

    def load_state_dict(self, state_dict, strict=True):
        """Accepts the tied pair under both names (they must be equal) or under either one."""
        state_dict = dict(state_dict)
        if self.config.tie_word_embeddings:
            embed, head = "model.embed_tokens.weight", "lm_head.weight"
            if embed in state_dict and head in state_dict:
                if not torch.equal(state_dict[embed], state_dict[head]):
                    raise ValueError(f"tie_word_embeddings is on but {embed} and {head} differ")
            elif embed in state_dict:
                state_dict[head] = state_dict[embed]
            elif head in state_dict:
                state_dict[embed] = state_dict[head]
        return super().load_state_dict(state_dict, strict=strict)

    def named_parameters_untied(self):
        """(name, parameter) for every distinct tensor; the tied pair is named model.embed_tokens.weight."""
        seen = set()
        for name, parameter in self.state_dict(keep_vars=True).items():
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            yield name, parameter


def masked_lm_loss(logits, targets, loss_mask, aux_loss=None):
    """sum(CE(logits[b,t], targets[b,t]) * loss_mask[b,t]) / sum(loss_mask), plus aux_loss when given."""
    vocab = logits.shape[-1]
    per_token = F.cross_entropy(_at_least_float32(logits).reshape(-1, vocab), targets.reshape(-1).long(),
                                reduction="none").view(targets.shape)
    mask = loss_mask.to(per_token.dtype)
    loss = (per_token * mask).sum() / mask.sum()
    return loss if aux_loss is None else loss + aux_loss


def load_pretrained(model_dir, dtype=torch.float64):
    """A MiniMindForCausalLM in dtype from model_dir/config.json and model_dir/model.safetensors, loaded with
    strict=True (tensors of any float dtype in the file are cast on copy)."""
    config = MiniMindConfig.load(os.path.join(model_dir, "config.json"))
    model = MiniMindForCausalLM(config).to(dtype)
    model.load_state_dict(load_safetensors(os.path.join(model_dir, "model.safetensors")), strict=True)
    return model
