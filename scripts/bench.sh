#!/usr/bin/env bash
# Runs every benchmark once, printing each figure beside the baseline that
# was measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
go test -run '^$' -bench . -benchtime 1x -timeout 60m ./events/ | tee build/bench-events.txt
