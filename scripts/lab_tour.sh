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
display=":$((90 + RANDOM % 500))"
cleanup() {
  [[ -n ${lab_pid:-} ]] && kill "$lab_pid" 2>/dev/null || true
  [[ -n ${xvfb_pid:-} ]] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$profile"
}
trap cleanup EXIT

Xvfb "$display" -screen 0 1400x940x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 50); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done

# A fresh machine: no saved settings, no prepared data, no earlier runs.
export XDG_CONFIG_HOME=$profile/config XDG_DATA_HOME=$profile/data XDG_CACHE_HOME=$profile/cache
export QT_QPA_PLATFORM=xcb
"$lab" --report-latency >"$profile/lab.out" 2>"$profile/lab.err" &
lab_pid=$!

window=$(xdotool search --sync --onlyvisible --name '^MiniMind Lab$' | head -1)
xdotool windowmove "$window" 0 0 windowsize "$window" 1400 940 windowfocus --sync "$window"
sleep 1.5

shot() {  # shot NAME: the whole screen (the window fills it) into NAME.png
  sleep "${2:-1.2}"
  import -window root "$shots/$1.png"
  echo "lab_tour: $shots/$1.png"
}
key() { xdotool key --window "$window" --clearmodifiers "$@"; }

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
key ctrl+7 && shot 08-moe
key ctrl+8 && sleep 0.5
key ctrl+shift+m  # use a snapshot of the model being trained
sleep 2
key ctrl+Return  # generate from the prompt
shot 09-generate 6

key ctrl+q  # the lab asks whether to stop the run
shot 10-close-while-training 1.5
key y
for _ in $(seq 100); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$lab_pid" 2>/dev/null; then echo "lab_tour: the lab did not close within 10 s of answering yes" >&2; exit 1; fi
wait "$lab_pid" || { echo "lab_tour: the lab exited with an error:" >&2; cat "$profile/lab.err" >&2; exit 1; }
lab_pid=

cat "$profile/lab.out"
runs=("$XDG_DATA_HOME"/MiniMind/"MiniMind Lab"/runs/*)
[[ -d ${runs[0]} ]] || { echo "lab_tour: no run directory was made" >&2; exit 1; }
ls -d "${runs[0]}"/checkpoints/step-* >/dev/null 2>&1 || { echo "lab_tour: the run left no checkpoint" >&2; exit 1; }
echo "lab_tour: run ${runs[0]}: $(ls "${runs[0]}"/checkpoints | tr '\n' ' ')"
echo "lab_tour: last metrics: $(tail -1 "${runs[0]}"/metrics.csv)"
