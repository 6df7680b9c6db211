#!/usr/bin/env bash
# Runs the real lab under Xvfb as a new user would: a fresh profile, no arguments, one press of Start training
# (F5), then a visit to every view while the tiny run trains, a screenshot of each, and a close that asks
# whether to stop (answered yes, so the run ends with a checkpoint). Keys are sent with xdotool, pictures taken
# with ImageMagick's import.
#
#   scripts/lab_tour.sh [LAB_BINARY] [SCREENSHOT_DIR]   (defaults: build/app/minimind-lab, docs/screenshots)
#
# Exits 77 when Xvfb, xdotool or import is missing; 1 when a step fails (the reason on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
lab=$(realpath "${1:-build/app/minimind-lab}")
shots=${2:-docs/screenshots}
train_seconds=${LAB_TOUR_TRAIN_SECONDS:-25}

for tool in Xvfb xdotool import; do
  command -v "$tool" >/dev/null || { echo "lab_tour: $tool is not installed (apt-get install xvfb xdotool imagemagick)"; exit 77; }
done
[[ -x $lab ]] || { echo "lab_tour: $lab is not built" >&2; exit 1; }
mkdir -p "$shots"
shots=$(realpath "$shots")

profile=$(mktemp -d)
cleanup() {
  [[ -n ${lab_pid:-} ]] && kill "$lab_pid" 2>/dev/null || true
  [[ -n ${xvfb_pid:-} ]] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$profile"
}
trap cleanup EXIT

start_display() {  # a new X server for each session, so that no input state carries over between them
  [[ -n ${xvfb_pid:-} ]] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null || true
  display=":$((90 + RANDOM % 500))"
  Xvfb "$display" -screen 0 1400x940x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  export DISPLAY=$display
  for _ in $(seq 50); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done
}

# A fresh machine: no saved settings, no prepared data, no earlier runs.
export XDG_CONFIG_HOME=$profile/config XDG_DATA_HOME=$profile/data XDG_CACHE_HOME=$profile/cache
export QT_QPA_PLATFORM=xcb
launch() {  # launch ARGS...: starts the lab and waits for its window
  "$lab" "$@" >"$profile/lab.out" 2>"$profile/lab.err" &
  lab_pid=$!
  xdotool search --sync --onlyvisible --name '^MiniMind Lab$' >/dev/null
  sleep 2  # the window settles (restoring a saved layout can replace the first native window)
  window=$(xdotool search --onlyvisible --name '^MiniMind Lab$' | head -1)
  xdotool windowmove "$window" 0 0 windowsize "$window" 1400 940 windowfocus --sync "$window"
  sleep 0.5
}
close_answering_yes() {  # asks the lab to quit while it trains, pictures the question, answers yes
  key ctrl+q
  [[ -n ${1:-} ]] && shot "$1" 1.5 || sleep 1.5
  key y
  for _ in $(seq 300); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$lab_pid" 2>/dev/null; then echo "lab_tour: the lab did not close within 30 s of answering yes" >&2; exit 1; fi
  wait "$lab_pid" || { echo "lab_tour: the lab exited with an error:" >&2; cat "$profile/lab.err" >&2; exit 1; }
  lab_pid=
}
shot() {  # shot NAME [DELAY]: the whole screen (the window fills it) into NAME.png
  sleep "${2:-1.2}"
  import -window root "$shots/$1.png"
  echo "lab_tour: $shots/$1.png"
}
# Real key presses (XTEST) to the focused window, as a keyboard would send them.
key() { xdotool key --clearmodifiers "$@"; }

# The first session: no arguments, as the quick start opens it.
start_display
launch --report-latency
key ctrl+1 && shot 01-configure
key ctrl+2 && shot 02-data
key ctrl+3 && sleep 0.5
key F5  # Start training: prepares the default corpus, then trains the tiny preset
shot 03-train-started 3
sleep "$train_seconds"
shot 04-train
key ctrl+4 && shot 05-dashboard
key ctrl+5 && shot 06-attention
key ctrl+6 && shot 07-rope
key ctrl+7 && shot 08-moe-dense 0.8
key ctrl+8 && sleep 0.5
key ctrl+shift+m  # use a snapshot of the model being trained
sleep 2
xdotool mousemove 400 190 click 1  # into the prompt
key ctrl+Return  # generate from it
sleep 5
xdotool mousemove 150 505  # over the first generated token: its candidates show as a tooltip
shot 09-generate 2
close_answering_yes 10-close-while-training
cat "$profile/lab.out"

# The second session: a small mixture-of-experts model (from a config.json), for the MoE view.
"$(dirname "$lab")/minimind" init --preset tiny --use_moe true --n_routed_experts 4 --num_experts_per_tok 2 \
  --out "$profile/moe" >/dev/null
start_display
launch --config "$profile/moe/config.json"
key F5
sleep $((train_seconds / 2 + 8))
key ctrl+7 && shot 11-moe 1.5
close_answering_yes

# Both runs were stopped by the close and must have left a checkpoint.
runs=("$XDG_DATA_HOME"/MiniMind/"MiniMind Lab"/runs/*)
[[ ${#runs[@]} -eq 2 && -d ${runs[0]} ]] || { echo "lab_tour: expected two run directories, found: ${runs[*]}" >&2; exit 1; }
for run in "${runs[@]}"; do
  ls -d "$run"/checkpoints/step-* >/dev/null 2>&1 || { echo "lab_tour: $run left no checkpoint" >&2; exit 1; }
  echo "lab_tour: run $run: $(ls "$run"/checkpoints | tr '\n' ' ')"
  echo "lab_tour:   last metrics: $(tail -1 "$run"/metrics.csv)"
done
