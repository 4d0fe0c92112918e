#!/usr/bin/env bash
# Runs every benchmark once, printing each figure beside the baseline that
# was measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
for pkg in events projections runner; do
  go test -run '^$' -bench . -benchtime 1x -timeout 60m "./$pkg/" | tee "build/bench-$pkg.txt"
done
