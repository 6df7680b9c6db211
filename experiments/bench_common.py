"""What the side-by-side benchmark drivers share: running a benchmark program that prints its figures as
JSON lines."""
import json
import subprocess
import sys


def run_json(command, env):
    """Runs `command` and returns its last JSON line, or exits with its output when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])
