#!/usr/bin/env bash
# Desktop smoke test: the built binary, opened under Xvfb, shows a window
# titled "Release Desk" whose content is not blank; a person signs in by
# typing into it; and a change made through the API beside the window
# reaches its page live, as a Wails event (the page then re-reads the
# board); something new waiting for the signed-in user pops a desktop
# notification (what waited at sign-in does not); then an exported log
# opens in the window for offline review.
# Screenshots are kept in build/artifacts/ for a person to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin/releasedesk}
ART=build/artifacts
mkdir -p "$ART"
[ -x "$BIN" ] || { echo "desktop-smoke: $BIN is not built (make build)" >&2; exit 1; }

work=$(mktemp -d)
# The window's web storage (the language it chose, a session) starts empty:
# WebKitGTK keeps it under the XDG directories.
export XDG_DATA_HOME="$work/xdg-data" XDG_CACHE_HOME="$work/xdg-cache" XDG_CONFIG_HOME="$work/xdg-config"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A display and a session bus of the test's own, and a notification daemon
# on it: dunst prints each notification it shows, so the window's desktop
# notifications can be read back.
. scripts/desktop-session.sh
desktop_session "$work" 90
notification_daemon "$work"

# A demo data directory: a project, users with known passwords, a release.
"$BIN" demo --quiet --log-level warning --data "$work/data" >/dev/null
pw() { awk -v u="$1" '$1 == u { print $3 }' "$work/data/demo/passwords.txt"; }
admin_pw=$(pw admin)
dev_pw=$(pw dev)
[ -n "$admin_pw" ] && [ -n "$dev_pw" ] || { echo "desktop-smoke: the demo wrote no passwords" >&2; exit 1; }

# In English whatever this machine's language: a notification's words are
# checked below.
env -u LC_ALL -u LC_MESSAGES LANGUAGE=en LANG=C.UTF-8 \
  "$BIN" --data "$work/data" --log-level debug --serve-addr 127.0.0.1:0 >"$work/app.log" 2>&1 &
app=$!
pids+=($app)

# Wait for the window, then for its page to call the API, then check that it
# painted something (a blank window is one or two colours).
if ! win=$(wait_for_window 'Release Desk' 120); then
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

# count PATTERN: how many request lines of the app's log match.
count() { grep -c "$1" "$work/app.log" || true; }
wait_count() { # PATTERN N WHAT
  for _ in $(seq 60); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.5; done
  echo "desktop-smoke: $3" >&2
  cat "$work/app.log" >&2
  import -display "$DISPLAY" -window root "$ART/desktop-failure.png" 2>/dev/null || true
  exit 1
}

# The API the window's process serves on loopback beside it, where others'
# changes are made. (Not the inbox: the counts above are the page's reads.)
url=$(grep -o 'Release Desk is at http://[^/ ]*' "$work/app.log" | head -n 1 | sed 's/Release Desk is at //')
[ -n "$url" ] || { echo "desktop-smoke: the app did not say where it serves beside the window" >&2; cat "$work/app.log" >&2; exit 1; }
token=$(curl -fsS -H 'Content-Type: application/json' -d "{\"user\":\"dev\",\"password\":\"$dev_pw\"}" "$url/api/v1/login" |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "desktop-smoke: dev could not sign in through the API" >&2; exit 1; }
# to_test RELEASE: dev deploys it to the demo's test stage and waits until
# it is there, waiting for a tester: admin may test it (another's release).
to_test() {
  curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"env":"test"}' \
    "$url/api/v1/releases/$1/deploy" >/dev/null
  local state=""
  for _ in $(seq 120); do
    state=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/releases/$1" |
      sed -n 's/^{"release":{[^{}]*"state":"\([a-z_]*\)".*/\1/p')
    [ "$state" = testing ] && return 0
    sleep 0.5
  done
  echo "desktop-smoke: release $1, deployed to test, is $state, not testing" >&2
  cat "$work/app.log" >&2
  exit 1
}
# shown: the titles (summaries) of the desktop notifications dunst showed.
shown() { sed -n "s/^[[:space:]]*summary: '\(.*\)'\$/\1/p" "$work/dunst.log"; }

# Before admin signs in, something already waits for them: the demo's
# release, on test. Signing in must not pop it as a desktop notification.
demo_rel=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/releases?state=open" |
  sed -n 's/.*"releases":\[{"id":"\([^"]*\)".*/\1/p')
[ -n "$demo_rel" ] || { echo "desktop-smoke: the demo has no open release" >&2; exit 1; }
to_test "$demo_rel"

# Sign in by typing into the window (the sign-in page focuses its first field).
xdotool windowactivate --sync "$win" 2>/dev/null || xdotool windowfocus --sync "$win"
sleep 0.5
xdotool type --delay 20 "admin"
xdotool key Tab
xdotool type --delay 20 "$admin_pw"
xdotool key Return
wait_count 'path=/api/v1/me status=200' 1 "signing in through the window did not reach GET /api/v1/me"
wait_count 'path=/api/v1/inbox status=200' 1 "the window's first screen (what waits for me) never read the inbox"
sleep 1
import -display "$DISPLAY" -window root "$ART/desktop-inbox.png" 2>/dev/null || true

# A change beside the window, through the API it serves on loopback: the
# page must hear of it as a Wails event and read what waits for its user
# again (the header's count is on every screen).
before=$(count 'path=/api/v1/inbox status=200')
rel=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"project":"shop","branch":"smoke-live","create_branch":true,"title":"Opened beside the window"}' \
  "$url/api/v1/releases" | sed -n 's/^{"release":{"id":"\([^"]*\)".*/\1/p')
[ -n "$rel" ] || { echo "desktop-smoke: dev could not open a release through the API" >&2; exit 1; }
wait_count 'path=/api/v1/inbox status=200' $((before + 1)) \
  "a release opened through the API never reached the window's page (no Wails event, or no refetch)"
sleep 1

# Now something new waits for admin while the window is open: that release,
# on test. The window must show it as a desktop notification, in the inbox's
# words; and none for what already waited when admin signed in.
to_test "$rel"
want="Test release $rel on test"
for _ in $(seq 60); do shown | grep -qxF "$want" && break; sleep 0.5; done
if ! shown | grep -qxF "$want"; then
  echo "desktop-smoke: no desktop notification \"$want\" was shown; dunst showed:" >&2
  shown >&2
  cat "$work/dunst.err" "$work/app.log" >&2
  import -display "$DISPLAY" -window root "$ART/desktop-failure.png" 2>/dev/null || true
  exit 1
fi
import -display "$DISPLAY" -window root "$ART/desktop-notification.png" 2>/dev/null || true
if shown | grep -qxF "Test release $demo_rel on test"; then
  echo "desktop-smoke: signing in popped a desktop notification for what already waited (release $demo_rel)" >&2
  exit 1
fi
grep -q 'desktop notification shown' "$work/app.log" ||
  { echo "desktop-smoke: dunst showed it, but the app did not log it as shown" >&2; cat "$work/app.log" >&2; exit 1; }

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

# Offline review in the window, on a machine set to Chinese: the log
# exported, opened with `open --window`. The window's page is no network
# peer, so it reads the archive without the review link's secret, and
# nothing answers 401; it takes the machine's language (health tells it),
# which every request of the page then carries (lang=zh-CN in the log).
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
"$BIN" events export --format jsonl --out "$work/audit.jsonl" --data "$work/data" --log-level warning >/dev/null
LANGUAGE=zh_CN LANG=zh_CN.UTF-8 "$BIN" open --window --log-level debug "$work/audit.jsonl" >"$work/review.log" 2>&1 &
review=$!
pids+=($review)
chinese='lang=zh-CN .*path=/api/v1/releases status=200'
for _ in $(seq 60); do grep -q "$chinese" "$work/review.log" && break; sleep 0.5; done
if ! grep -q "$chinese" "$work/review.log" || grep -q 'status=401' "$work/review.log"; then
  echo "desktop-smoke: the review window did not read the archive in Chinese without a secret" >&2
  cat "$work/review.log" >&2
  exit 1
fi
sleep 1
import -display "$DISPLAY" -window root "$ART/desktop-review.png" 2>/dev/null || true
kill "$review" 2>/dev/null || true

echo "desktop-smoke: window rendered ($colours colours), signed in by typing, live update received, a desktop notification shown for something new, an archive reviewed in the window in Chinese; screenshots in $ART"
