#!/usr/bin/env bash
# Desktop smoke test of a window that joins a team's server (issue 15): a
# `serve` process on another port, over TLS with a self-signed certificate;
# the window opened on it (`releasedesk --server URL`) asks to confirm the
# certificate's fingerprint, a person confirms it by keyboard, signs in by
# typing, and a release opened through the server's API reaches the
# window's page live (the server's stream, relayed by the window as Wails
# events; the page then reads its inbox again, on the server). Then the
# server shows another certificate: the window opened on it again refuses
# it, and nothing of the page reaches the server.
# Screenshots are kept in build/artifacts/ for a person to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin/releasedesk}
ART=build/artifacts
mkdir -p "$ART"
[ -x "$BIN" ] || { echo "desktop-join-smoke: $BIN is not built (make build)" >&2; exit 1; }

work=$(mktemp -d)
# The window's web storage and its list of servers (servers.json, under
# XDG_CONFIG_HOME) start empty.
export XDG_DATA_HOME="$work/xdg-data" XDG_CACHE_HOME="$work/xdg-cache" XDG_CONFIG_HOME="$work/xdg-config"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "desktop-join-smoke: $1" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 60 "$f" >&2; done
  import -display "${DISPLAY:-:0}" -window root "$ART/join-failure.png" 2>/dev/null || true
  exit 1
}

# A display and a session bus of the test's own.
. scripts/desktop-session.sh
desktop_session "$work" 110

# The team's server: the demo, served over TLS with a self-signed
# certificate for 127.0.0.1 on a port of its own.
"$BIN" demo --quiet --log-level warning --data "$work/data" >/dev/null
pw() { awk -v u="$1" '$1 == u { print $3 }' "$work/data/demo/passwords.txt"; }
admin_pw=$(pw admin)
dev_pw=$(pw dev)
[ -n "$admin_pw" ] && [ -n "$dev_pw" ] || fail "the demo wrote no passwords"
selfsigned() { # NAME: NAME.crt and NAME.key, for 127.0.0.1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=desk $1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/$1.key" -out "$work/$1.crt" 2>/dev/null
}
fingerprint() { openssl x509 -in "$work/$1.crt" -outform DER | sha256sum | cut -d' ' -f1; }
selfsigned first
selfsigned second
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve() { # CERT
  "$BIN" serve --data "$work/data" --log-level debug --addr "127.0.0.1:$port" \
    --tls-cert "$work/$1.crt" --tls-key "$work/$1.key" >>"$work/server.log" 2>&1 &
  server=$!
  pids+=($server)
  for _ in $(seq 60); do grep -q 'Release Desk is at https://' "$work/server.log" && return 0; sleep 0.5; done
  fail "the server did not start"
}
serve first
url="https://127.0.0.1:$port"
api() { curl -fsS --cacert "$work/first.crt" "$@"; }
count() { grep -c "$1" "$work/server.log" || true; }
wait_count() { # PATTERN N WHAT
  for _ in $(seq 60); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.5; done
  fail "$3"
}

# The window, opened on the server in English.
env -u LC_ALL -u LC_MESSAGES LANGUAGE=en LANG=C.UTF-8 \
  "$BIN" --server "$url" --data "$work/local" --log-level debug >"$work/window.log" 2>&1 &
win_pid=$!
pids+=($win_pid)
win=$(wait_for_window 'Release Desk' 120) || fail "no window titled 'Release Desk' appeared"
for _ in $(seq 60); do grep -q 'path=/window/state' "$work/window.log" && break; sleep 0.5; done
grep -q 'path=/window/state' "$work/window.log" || fail "the window's page never asked the window where it is (GET /window/state)"
[ -e "$work/local" ] && fail "on a server, the window opened this computer's data directory"
sleep 2 # let the page show the certificate to confirm
import -display "$DISPLAY" -window root "$ART/join-confirm.png" 2>/dev/null || true

# Confirm the fingerprint as a person would, by keyboard: the sign-in page
# focuses its user field; before it come the certificate's buttons,
# "Cancel" then "trust it".
xdotool windowactivate --sync "$win" 2>/dev/null || xdotool windowfocus --sync "$win"
sleep 0.5
xdotool key shift+Tab shift+Tab Return
for _ in $(seq 60); do grep -q 'the window joined a server' "$work/window.log" && break; sleep 0.5; done
grep -q 'the window joined a server' "$work/window.log" || fail "confirming the fingerprint in the window did not join the server"
pinned=$(sed -n 's/.*"pin": "\([0-9a-f]*\)".*/\1/p' "$XDG_CONFIG_HOME/releasedesk/servers.json")
[ "$pinned" = "$(fingerprint first)" ] || fail "servers.json pins '$pinned', not the server's certificate $(fingerprint first)"

# Signed in by typing, on the server (the page reloaded on joining).
# (Its first question, with no session yet: who am I? 401, from the server.)
wait_count 'path=/api/v1/me status=401' 1 "the window's page, reloaded on the server, never reached it through the window"
sleep 2
xdotool windowactivate --sync "$win" 2>/dev/null || xdotool windowfocus --sync "$win"
xdotool type --delay 20 "admin"
xdotool key Tab
xdotool type --delay 20 "$admin_pw"
xdotool key Return
wait_count 'path=/api/v1/me status=200' 1 "signing in through the window did not reach the server's GET /api/v1/me"
wait_count 'path=/api/v1/inbox status=200' 1 "the window's first screen never read the server's inbox"
# (The stream itself is logged when it ends: its ticket, when asked for.)
wait_count 'path=/api/v1/stream/ticket status=200' 1 "the window never followed the server's live stream"
sleep 1
import -display "$DISPLAY" -window root "$ART/join-signed-in.png" 2>/dev/null || true

# A release opened through the server's API, beside the window: the page
# must hear of it (the server's stream, relayed as a Wails event) and read
# its inbox again.
token=$(api -H 'Content-Type: application/json' -d "{\"user\":\"dev\",\"password\":\"$dev_pw\"}" "$url/api/v1/login" |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || fail "dev could not sign in through the server's API"
before=$(count 'path=/api/v1/inbox status=200')
rel=$(api -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"project":"shop","branch":"smoke-join","create_branch":true,"title":"Opened on the server"}' \
  "$url/api/v1/releases" | sed -n 's/^{"release":{"id":"\([^"]*\)".*/\1/p')
[ -n "$rel" ] || fail "dev could not open a release through the server's API"
wait_count 'path=/api/v1/inbox status=200' $((before + 1)) \
  "a release opened on the server never reached the window's page (no relayed event, or no refetch)"
import -display "$DISPLAY" -window root "$ART/join-live.png" 2>/dev/null || true

# The server now shows another certificate: the window opened on it again
# refuses it (both fingerprints logged, and shown on the sign-in page), and
# the page's requests never reach the server.
kill "$win_pid" 2>/dev/null || true
wait "$win_pid" 2>/dev/null || true
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
: >"$work/server.log"
serve second
env -u LC_ALL -u LC_MESSAGES LANGUAGE=en LANG=C.UTF-8 \
  "$BIN" --server "$url" --data "$work/local" --log-level debug >"$work/window2.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do grep -q 'path=/window/state' "$work/window2.log" && break; sleep 0.5; done
grep -q "certificate changed: refused.*pinned=$(fingerprint first).*shown=$(fingerprint second)" "$work/window2.log" ||
  fail "a changed certificate was not refused with both fingerprints"
sleep 2
import -display "$DISPLAY" -window root "$ART/join-changed.png" 2>/dev/null || true
[ "$(count 'path=/api/v1/me')" -eq 0 ] || fail "the page reached the server despite its changed certificate"

echo "desktop-join-smoke: the window joined a TLS server after its fingerprint was confirmed in the UI, signed in by typing, saw a release opened on the server live; a changed certificate was refused; screenshots in $ART"
