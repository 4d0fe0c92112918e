#!/usr/bin/env bash
# Desktop smoke test: the built binary, opened under Xvfb, shows a window
# titled "Release Desk" whose content is not blank. The screenshot is kept
# in build/artifacts/ for a person to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin/releasedesk}
ART=build/artifacts
mkdir -p "$ART"
[ -x "$BIN" ] || { echo "desktop-smoke: $BIN is not built (make build)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A display number nobody uses.
d=90
while [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ]; do d=$((d + 1)); done
Xvfb ":$d" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$d" ] && break; sleep 0.1; done
export DISPLAY=":$d"

"$BIN" --data "$work/data" --log-level debug >"$work/app.log" 2>&1 &
app=$!
pids+=($app)

# Wait for the window, then for its page to call the API, then check that it
# painted something (a blank window is one or two colours).
if ! timeout 30 xdotool search --sync --name '^Release Desk$' >/dev/null 2>&1; then
  echo "desktop-smoke: no window titled 'Release Desk' appeared" >&2
  cat "$work/app.log" >&2
  exit 1
fi
# The page inside the window must call the API through Wails'
# AssetServer.Handler: the same handler `serve` uses.
for _ in $(seq 40); do grep -q 'path=/api/v1/health status=200' "$work/app.log" && break; sleep 0.5; done
if ! grep -q 'path=/api/v1/health status=200' "$work/app.log"; then
  echo "desktop-smoke: the window's page never got GET /api/v1/health from the Go handler" >&2
  cat "$work/app.log" >&2
  exit 1
fi
sleep 1 # let the page paint the answer

shot="$ART/desktop-window.png"
colours=0
for _ in $(seq 20); do
  kill -0 "$app" 2>/dev/null || { echo "desktop-smoke: the app exited" >&2; cat "$work/app.log" >&2; exit 1; }
  import -display "$DISPLAY" -window root "$shot" 2>/dev/null || true
  # A blank window is one or two colours; rendered text and panels are hundreds.
  colours=$(convert "$shot" -format '%k' info: 2>/dev/null || echo 0)
  [ "$colours" -ge 64 ] && break
  sleep 0.5
done
if [ "$colours" -lt 64 ]; then
  echo "desktop-smoke: the window stayed blank ($colours colours); screenshot in $shot" >&2
  cat "$work/app.log" >&2
  exit 1
fi
echo "desktop-smoke: window rendered ($colours colours), screenshot $shot"
