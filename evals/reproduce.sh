#!/usr/bin/env bash
# Re-run every measurement in evals/RESULTS.md and print its tables (hours on a 2-core CPU).
# Run from the repository root after the README's install: bash evals/reproduce.sh [MODEL]
# (MODEL defaults as `python -m evals run` does: gemma-4-12b on a GPU or a Mac where it is
# downloaded, else qwen2.5-coder-1.5b). Interrupted? Run it again: the repository suites keep
# the tasks they finished (--resume) and a finished tools suite is not run again. Delete
# evals/runs/MODEL/ to measure everything afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
model=${1:-$("$py" -c 'from evals.harness.cli import default_model; print(default_model())')}
out=evals/runs/$model
mkdir -p "$out"
"$py" -m evals setup
[ -e "$out/tools-gemma-code.json" ] ||  # written only when the suite is done
    "$py" -m evals run --suite tools --model "$model" --out "$out/tools-gemma-code.json"
"$py" -m evals run --suite screenshot --model "$model" --resume --out "$out/screenshot-gemma-code.json"
for agent in gemma-code aider mini-swe-agent; do
    "$py" -m evals run --suite edit --model "$model" --agent "$agent" --resume \
        --out "$out/edit-$agent.json"
done
"$py" -m evals report "$out"/*.json
