#!/usr/bin/env bash
# 200 steps of the tiny preset on the default corpus, trained twice from the same seed: on the CPU in f32
# and on the GPU in bf16 mixed precision. The GPU's loss curve must track the CPU's: every window of 10
# steps has its mean loss within 2% of the CPU's. Exit 77 (skipped) without a usable GPU.
# Usage: loss_curve_bf16_vs_cpu.sh <minimind binary> <source dir> [work dir]
set -euo pipefail
minimind=$1
source_dir=$2
work=${3:-$(mktemp -d)}
steps=${CURVE_STEPS:-200}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "skipped: no NVIDIA GPU on this machine"
  exit 77
fi

mkdir -p "$work"
"$minimind" prepare --input "$source_dir/resources/corpus/default/pretrain.jsonl" --out "$work/shards" >/dev/null
common=(--data_dir "$work/shards" --preset tiny --batch_size 16 --max_seq_len 128 --max_steps "$steps"
        --learning_rate 1e-3 --eval_every 0 --save_every 0 --seed 7)
# The two runs side by side: the GPU's needs one host thread, the CPU's the rest.
"$minimind" train "${common[@]}" --out_dir "$work/cpu" --device cpu --precision f32 >"$work/cpu.log" 2>&1 &
cpu_run=$!
gpu_status=0 cpu_status=0
"$minimind" train "${common[@]}" --out_dir "$work/gpu" --device cuda --precision bf16 >"$work/gpu.log" 2>&1 ||
  gpu_status=$?
wait "$cpu_run" || cpu_status=$?
failed() {  # RUN STATUS
  echo "the $1 run failed (exit $2):"
  tail -20 "$work/$1.log"
  exit 1
}
((cpu_status == 0)) || failed cpu "$cpu_status"
((gpu_status == 0)) || failed gpu "$gpu_status"

python3 - "$work/cpu/metrics.jsonl" "$work/gpu/metrics.jsonl" "$steps" <<'PY'
import json, sys

def losses(path):
    out = {}
    for line in open(path):
        event = json.loads(line)
        if "loss" in event and "grad_norm" in event:  # the step metrics
            out[event["step"]] = event["loss"]
    return out

cpu, gpu, steps = losses(sys.argv[1]), losses(sys.argv[2]), int(sys.argv[3])
missing = [s for s in range(1, steps + 1) if s not in cpu or s not in gpu]
if missing:
    sys.exit(f"steps missing from the logs: {missing[:5]}...")
worst = 0.0
for start in range(1, steps + 1, 10):
    window = range(start, min(start + 10, steps + 1))
    a = sum(cpu[s] for s in window) / len(window)
    b = sum(gpu[s] for s in window) / len(window)
    worst = max(worst, abs(b - a) / a)
    print(f"steps {start:4d}-{window[-1]:4d}: cpu f32 {a:.4f}  gpu bf16 {b:.4f}  ({100 * (b - a) / a:+.2f}%)")
print(f"worst window: {100 * worst:.2f}% (limit 2%)")
sys.exit(0 if worst <= 0.02 else 1)
PY
