#!/usr/bin/env python3
"""Reads TensorBoard event files the lab wrote and prints their scalars, through TensorBoard's own reader.

Usage: python3 experiments/check_tensorboard_file.py RUN_DIR_OR_EVENT_FILE
Needs `pip install tensorboard`. Exits non-zero when no scalars are found. TensorBoard's reader checks each
record's CRC-32C and stops at the first bad one, so a corrupt file shows as missing scalars.
"""
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    target = sys.argv[1]
    accumulator = event_accumulator.EventAccumulator(target, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    print(f"file_version: {accumulator.file_version}")
    tags = accumulator.Tags()["scalars"]
    if not tags:
        print(f"no scalars in {target}", file=sys.stderr)
        return 1
    for tag in sorted(tags):
        events = accumulator.Scalars(tag)
        values = ", ".join(f"{e.step}:{e.value:.6g}" for e in events)
        print(f"{tag} ({len(events)}): {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
