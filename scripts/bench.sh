#!/usr/bin/env bash
# Runs every benchmark once, printing each figure beside the baseline that
# was measured in the same run: first the package benchmarks (events,
# projections, runner, app, app/httpapi; output in build/bench-<pkg>.txt), then the whole
# app at fleet scale (BenchmarkFleet: a real serve process, 100 sshd
# hosts, the API under load, start-up on a million events), which writes
# docs/BENCHMARKS.md itself (output in build/bench-fleet.txt), the
# time from the click to "succeeded" (build/bench-click.txt), the
# notifications' latency over 20 hosts (build/bench-notify.txt), and the
# latency across two instances on PostgreSQL (build/bench-instances.txt).
# Among the projections' benchmarks, BenchmarkStartupPostgres copies the
# million events into PostgreSQL (the `events copy` rate) and starts from a
# checkpoint on it, against Badger's start-up from the same checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
for pkg in events projections runner app app/httpapi; do
  go test -run '^$' -bench . -benchtime 1x -timeout 60m "./$pkg/" | tee "build/bench-${pkg//\//-}.txt"
done
# 100 sshd, their sessions and the app's connections: make room for the
# descriptors (a no-op where the limit is already higher).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go test -run '^$' -bench BenchmarkFleet -benchtime 1x -timeout 60m ./e2e/ | tee build/bench-fleet.txt
# What a user waits for (issue 17): from the click to "succeeded", the
# app's data directory on disk, 20 hosts, medians of 3 runs, against plain
# parallel rsync over OpenSSH in the same run.
go test -run '^$' -bench BenchmarkClickToSucceeded -benchtime 1x -timeout 60m ./e2e/ | tee build/bench-click.txt
# Notifications: from an event to the chat receiver, over deployments of
# 20 hosts, against the same events reaching the live SSE stream.
go test -run '^$' -bench BenchmarkNotifyLatency -benchtime 1x -timeout 30m ./e2e/ | tee build/bench-notify.txt
# Two serve instances on one PostgreSQL database: from a write through
# one's API to its event on the other's SSE stream, against the same event
# on the writer's own stream.
go test -run '^$' -bench BenchmarkInstanceLatency -benchtime 1x -timeout 30m ./e2e/ | tee build/bench-instances.txt
echo "make bench: figures written to docs/BENCHMARKS.md"
