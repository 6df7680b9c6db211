#!/usr/bin/env bash
# The README's two commands on a brand-new Debian 12 system: a root made with debootstrap, holding nothing but
# Debian's standard packages and the committed tree. As root inside it, `bash scripts/run.sh` must install,
# build and open the lab (on an Xvfb display shared from this machine, pictured), and `bash scripts/test.sh`
# must pass the whole suite, widget and tour tests included. Prints the time of each stage.
#
#   sudo bash scripts/fresh_debian_check.sh [WORK_DIR]   (default: a new folder under /var/tmp)
#
# Needs root, debootstrap, Xvfb, xdotool and ImageMagick's import on this machine (installed when missing).
# The Debian mirror is the one this machine's apt sources use; DEBIAN_MIRROR overrides it. The root is left in
# WORK_DIR/root for inspection; its logs and the lab's screenshot are in WORK_DIR.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /var/tmp/minimind-fresh.XXXXXX)}
mkdir -p "$work"
work=$(realpath "$work")
root=$work/root

[[ $(id -u) -eq 0 ]] || { echo "fresh_debian_check: run as root (debootstrap and chroot need it)" >&2; exit 1; }
need=()
for tool in debootstrap Xvfb xdotool import; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap xvfb xdotool imagemagick >/dev/null
fi

mirror=${DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then  # the first Debian archive this machine's apt sources name
  mirror=$(grep -hoE '(https?://[^ ]+/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 | tr -d ' ' || true)
fi
[[ -n $mirror ]] || { echo "fresh_debian_check: no Debian mirror in /etc/apt sources; set DEBIAN_MIRROR" >&2; exit 1; }

stage_start=$SECONDS
stage() {  # stage NAME: prints the time the previous stage took
  [[ -n ${current_stage:-} ]] && echo "fresh_debian_check: $(printf '%-28s' "$current_stage") $((SECONDS - stage_start)) s"
  current_stage=$1
  stage_start=$SECONDS
}

cleanup() {
  [[ -n ${xvfb_pid:-} ]] && kill "$xvfb_pid" 2>/dev/null || true
  for mount_point in tmp/.X11-unix dev/pts dev sys proc; do
    mountpoint -q "$root/$mount_point" 2>/dev/null && umount -l "$root/$mount_point" || true
  done
}
trap cleanup EXIT

stage debootstrap
if [[ ! -x $root/bin/bash ]]; then
  debootstrap bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { echo "fresh_debian_check: debootstrap failed, see $work/debootstrap.log" >&2; exit 1; }
fi

# The committed tree, as a clean clone has it, and shared/ beside it, as CI lays it out.
stage "copy the project"
rm -rf "$root/root/minimind" "$root/root/shared"
mkdir -p "$root/root/minimind"
git -C "$repo" archive HEAD | tar -x -C "$root/root/minimind"
[[ -d $repo/../shared ]] && cp -r "$repo/../shared" "$root/root/shared"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mkdir -p -m 1777 /tmp/.X11-unix "$root/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"

# The user's display: an X server on this machine, its socket shared into the new root.
display=":$((200 + RANDOM % 300))"
Xvfb "$display" -screen 0 1400x940x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do DISPLAY=$display xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done

in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
              LANG=C.UTF-8 TERM=dumb "$@"; }

# The README's first command. It installs, builds and then opens the lab, which stays open until closed: wait
# for its window, picture it and close it.
stage "bash scripts/run.sh"
in_root DISPLAY="$display" bash -c 'cd /root/minimind && bash scripts/run.sh' >"$work/run.log" 2>&1 &
run_pid=$!
window=
for _ in $(seq 7200); do  # up to two hours: installing and building on a small machine takes a while
  window=$(DISPLAY=$display xdotool search --onlyvisible --name '^MiniMind Lab$' 2>/dev/null | head -1 || true)
  [[ -n $window ]] && break
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 1
done
if [[ -z $window ]]; then
  echo "fresh_debian_check: scripts/run.sh did not open the lab; its output:" >&2
  tail -40 "$work/run.log" >&2
  exit 1
fi
sleep 3
DISPLAY=$display import -window root "$work/lab-opened.png"
DISPLAY=$display xdotool windowfocus --sync "$window" key --clearmodifiers ctrl+q 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
pkill -f /root/minimind/build/app/minimind-lab 2>/dev/null || true
wait "$run_pid" 2>/dev/null || true
echo "fresh_debian_check: the lab opened (window $window), pictured in $work/lab-opened.png"

# The README's second command: the whole suite. Its closing summary is the verdict.
stage "bash scripts/test.sh"
status=0
in_root CI=true bash -c 'cd /root/minimind && bash scripts/test.sh' >"$work/test.log" 2>&1 || status=$?
stage done
grep -E 'tests passed|tests failed|Total Test time|check_test_groups' "$work/test.log" || true
if ((status != 0)); then
  echo "fresh_debian_check: scripts/test.sh failed (exit $status); see $work/test.log" >&2
  exit "$status"
fi
echo "fresh_debian_check: passed; logs in $work"
