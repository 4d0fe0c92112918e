#!/usr/bin/env bash
# Runs the chaos tests (crashes, host and disk faults, damaged stores,
# concurrent deploys, hostile input, authorization, secrets) at their full
# counts against a real serve process and real sshd hosts, then writes
# docs/RELIABILITY.md from their results. `make test` runs the same tests
# in a shortened form.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
RD_CHAOS=full RD_CHAOS_RESULTS="$results" RD_CHAOS_WRITE="$PWD/docs/RELIABILITY.md" \
  go test -count=1 -timeout 90m -run '^TestChaos' -v ./e2e/ >build/chaos.log 2>&1
status=$?
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|\s+--- (PASS|FAIL|SKIP)|PASS|FAIL|ok )' build/chaos.log | grep -v '=== RUN' || true
if [ "$status" -ne 0 ]; then
  echo "make chaos: failures (the full log is build/chaos.log)" >&2
  exit "$status"
fi
echo "make chaos: passed; docs/RELIABILITY.md written (the full log is build/chaos.log)"
