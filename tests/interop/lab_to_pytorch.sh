#!/usr/bin/env bash
# A model written by the lab loads into the PyTorch reference with strict key matching and gives the lab's
# logits (relative 1e-5): dense GQA, MoE, and YaRN with bf16 storage (compared in f32 after loading).
# Usage: lab_to_pytorch.sh MINIMIND_BINARY SOURCE_DIR. Exits 77 (skipped) where PyTorch is missing.
set -euo pipefail
minimind=$1
source_dir=$2
python=${MINIMIND_TORCH_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: $python cannot import torch (apt-get install python3-torch)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ids=1,17,250,3,99,4,0,2,45,128,7
check() {
  local name=$1
  shift
  "$minimind" init "$@" --seed 5 --out "$work/$name" >/dev/null
  "$minimind" forward --model "$work/$name" --ids $ids --out "$work/$name.safetensors" >/dev/null
  "$python" "$source_dir/experiments/reference/check_lab_model.py" "$work/$name" "$work/$name.safetensors" \
    --ids $ids --tol 1e-5
}
small="--hidden_size 64 --num_hidden_layers 2 --num_attention_heads 4 --num_key_value_heads 2 --vocab_size 300"
check dense --preset tiny $small
check moe --preset tiny $small --use_moe --n_routed_experts 4 --num_experts_per_tok 2
check yarn --preset tiny $small --inference_rope_scaling --max_position_embeddings 4096 --dtype bf16
echo "lab models load into PyTorch and agree"
