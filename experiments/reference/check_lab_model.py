"""Checks a model written by the lab against the PyTorch reference: loads MODEL_DIR (config.json +
model.safetensors) into minimind_torch with strict=True, runs the token ids in float64 (eval mode) and
compares with the logits the lab wrote.

    /usr/bin/python3 experiments/reference/check_lab_model.py MODEL_DIR LAB_OUTPUT.safetensors --ids 1,2,3 [--tol 1e-5]

LAB_OUTPUT.safetensors holds "logits" [1, T, V] (any float dtype); --ids may be left out when it also holds
"input_ids" [1, T]. The error printed is max |lab - reference| / max |reference|; the exit status is 1 when it
is above --tol, 2 when the inputs do not fit together.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from minimind_torch import load_pretrained  # noqa: E402
from safetensors_io import load  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("lab_output")
    parser.add_argument("--ids", help="comma-separated token ids, e.g. 1,2,3")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest accepted relative error")
    args = parser.parse_args()

    lab = load(args.lab_output)
    if "logits" not in lab:
        print(f"{args.lab_output}: no tensor named 'logits' (found {sorted(lab)})", file=sys.stderr)
        return 2
    if args.ids:
        input_ids = torch.tensor([[int(token) for token in args.ids.split(",")]], dtype=torch.long)
    elif "input_ids" in lab:
        input_ids = lab["input_ids"].long().reshape(1, -1)
    else:
        print("no token ids: pass --ids or write input_ids into the lab output", file=sys.stderr)
        return 2

    model = load_pretrained(args.model_dir, torch.float64).eval()
    vocab = model.config.vocab_size
    if int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab:
        print(f"token ids must lie in [0, {vocab}), found {input_ids.tolist()[0]}", file=sys.stderr)
        return 2
    with torch.no_grad():
        reference = model(input_ids)[0]
    lab_logits = lab["logits"].to(torch.float64)
    if tuple(lab_logits.shape) != tuple(reference.shape):
        print(f"lab logits have shape {list(lab_logits.shape)}, the reference {list(reference.shape)} "
              f"(1, T={input_ids.shape[1]}, V={vocab})", file=sys.stderr)
        return 2

    difference = (lab_logits - reference).abs()
    relative = (difference.max() / reference.abs().max().clamp_min(1e-300)).item()
    position = divmod(int(difference.argmax()), vocab)
    same_argmax = bool((lab_logits.argmax(-1) == reference.argmax(-1)).all())
    print(f"max relative error {relative:.3e} (max abs {difference.max().item():.3e} at position {position[0]}, "
          f"token {position[1]}; reference max |logit| {reference.abs().max().item():.3e}); "
          f"argmax equal at every position: {same_argmax}; tolerance {args.tol:g}")
    return 0 if relative <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
