#!/usr/bin/env bash
# How e2e/testdata/upgrade/ was made: a data directory after a full release
# flow, written by the releasedesk of commit ff62f15 (before the event
# vocabulary moved into one package), and the answers that build gave.
# TestUpgradeFixture opens it with the build under test and wants the same
# answers. Do not run this again for a later build: the point of the
# fixture is that it was written by an old one. Kept to show what is in it.
#
#   e2e/testdata/upgrade/make.sh BINARY OUTDIR
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
work=$(mktemp -d)
trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT
data=$work/data
mkdir -p "$out"

"$bin" demo --quiet --data "$data" --log-level warning
pw() { awk -v u="$1" '$1 == u {print $3}' "$data/demo/passwords.txt"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
serve() {
  "$bin" serve --addr "127.0.0.1:$port" --data "$data" --log-level warning >"$work/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && return; sleep 0.1; done
  echo "serve did not start" >&2; cat "$work/serve.log" >&2; exit 1
}
stop() { kill -TERM "$serve_pid"; wait "$serve_pid" || true; }
serve
export RELEASEDESK_SERVER="http://127.0.0.1:$port"
tok() { printf '%s\n' "$(pw "$1")" | "$bin" login --user "$1"; }
as() { local u=$1; shift; RELEASEDESK_TOKEN=${T[$u]} "$bin" "$@"; }
api() { local u=$1 m=$2 p=$3 b=${4:-}; curl -sf -X "$m" -H "Authorization: Bearer ${T[$u]}" \
  ${b:+-H 'Content-Type: application/json' --data "$b"} "$RELEASEDESK_SERVER$p"; }
declare -A T
for u in admin dev tess alice max; do T[$u]=$(tok "$u"); done

# People: a new user, roles changed, a password changed, disabled and
# enabled, a failed login, a personal token (kept for the test) and one
# revoked.
api admin POST /api/v1/users '{"name":"ops","password":"ops-password-1","roles":{"shop":["developer"]}}' >/dev/null
api admin PUT /api/v1/users/ops '{"admin":false,"roles":{"shop":["developer","tester"]}}' >/dev/null
api admin POST /api/v1/users/ops/password '{"password":"ops-password-2"}' >/dev/null
api admin POST /api/v1/users/ops/disable '{"reason":"on leave"}' >/dev/null
api admin POST /api/v1/users/ops/enable '{"reason":"back"}' >/dev/null
curl -s -X POST -H 'Content-Type: application/json' --data '{"user":"ops","password":"wrong-password"}' \
  "$RELEASEDESK_SERVER/api/v1/login" >/dev/null
api admin POST /api/v1/tokens '{"name":"fixture reader"}' | jq -r .token >"$out/token"
gone=$(api admin POST /api/v1/tokens '{"name":"short lived","ttl_days":1}' | jq -r .info.id)
api admin DELETE "/api/v1/tokens/$gone" >/dev/null

# A host key trusted, and the project configured again (a diff).
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
api admin POST /api/v1/hosts/trust "$(jq -n --arg k "$(cut -d' ' -f1,2 "$work/hostkey.pub")" '{addr:"web1.example:22",key:$k}')" >/dev/null
api admin GET /api/v1/projects/shop | jq -r .yaml | sed "s/^keep_releases: 5/keep_releases: 2/" >"$work/shop.yaml"
as admin project apply -f "$work/shop.yaml" >/dev/null
configure() { # the project as above, with a pre_release hook (or none)
  cp "$work/shop.yaml" "$work/hooked.yaml"
  [ -z "$1" ] || printf 'hooks:\n  pre_release: %s\n' "$1" >>"$work/hooked.yaml"
  as admin project apply -f "$work/hooked.yaml" >/dev/null
}

# The developers' commits, pushed to the demo's repository.
git clone -q "$data/demo/shop.git" "$work/src"
commit() { # branch file text
  git -C "$work/src" checkout -q "$1" 2>/dev/null || git -C "$work/src" checkout -q -b "$1" "origin/$1"
  printf '%s\n' "$3" >"$work/src/$2"
  git -C "$work/src" add "$2"
  git -C "$work/src" -c user.name=Dev -c user.email=dev@shop.example commit -q -m "$2: $3"
  git -C "$work/src" push -q origin "$1"
}
commit spring-sale banner.html "Spring sale: 20% off"

# Release 1 (the demo's): a failed test, a second test deploy, passed,
# approved, live, accepted, completed.
as dev release deploy 1 --env test --wait >/dev/null
as tess release test 1 --fail --note "the banner overlaps the menu" >/dev/null
commit spring-sale banner.html "Spring sale: 20% off, below the menu"
as dev release deploy 1 --env test --wait >/dev/null
as tess release test 1 --pass --note "looks right" >/dev/null
as alice release approve 1 --note "checked the diff" >/dev/null
as alice release deploy 1 --env production --wait >/dev/null
v1=$(api admin GET /api/v1/projects/shop/environments/production/versions | jq -r '.current')
as max release accept 1 --note "sales are fine" >/dev/null
as max release complete 1 >/dev/null

# Release 2: live, then refused, rolled back, its version marked bad.
as dev release open --project shop --branch autumn-sale --create-branch --title "Autumn sale" >/dev/null
git -C "$work/src" fetch -q origin
commit autumn-sale banner.html "Autumn sale"
as dev release deploy 2 --env test --wait >/dev/null
as tess release test 2 --pass >/dev/null
as alice release reject 2 --reason "the price is wrong" >/dev/null
as dev release deploy 2 --env test --wait >/dev/null
as tess release test 2 --pass >/dev/null
as alice release approve 2 >/dev/null
as alice release deploy 2 --env production --wait >/dev/null
v2=$(api admin GET /api/v1/projects/shop/environments/production/versions | jq -r '.current')
as max release refuse 2 --reason "checkout broke" >/dev/null
as alice rollback --project shop --env production --version "$v1" --reason "checkout broke" --wait >/dev/null
if [ -n "$v2" ]; then
  api max POST "/api/v1/projects/shop/environments/production/versions/$v2/bad" '{"reason":"checkout broke"}' >/dev/null
fi

# Deployments that do not succeed, on the test stage: a failed one and
# its retry, a cancelled one, and one the app was killed under (recovered
# as interrupted at the next start).
configure '"exit 3"'
d=$(as dev release deploy 2 --env test --json | jq -r .deployment)
as dev deployment show "$d" --wait >/dev/null || true
api dev POST "/api/v1/deployments/$d/retry" '{}' >/dev/null
as dev deployment show "$d" --wait >/dev/null || true
configure '"sleep 30"'
d=$(as dev release deploy 2 --env test --json | jq -r .deployment)
sleep 1
api dev POST "/api/v1/deployments/$d/cancel" '{"reason":"wrong branch"}' >/dev/null
as dev deployment show "$d" --wait >/dev/null || true
d=$(as dev release deploy 2 --env test --json | jq -r .deployment)
sleep 1.5
kill -KILL "$serve_pid"; wait "$serve_pid" || true
serve
as dev deployment show "$d" --wait >/dev/null || true
configure ""

# Release 3: opened and cancelled.
as dev release open --project shop --branch winter-sale --create-branch --title "Winter sale" >/dev/null
as dev release cancel 3 --reason "replaced by the spring plan" >/dev/null
stop

# The answers, from a fresh process (it starts from the checkpoint).
serve
T[reader]=$(cat "$out/token")
api reader GET /api/v1/releases | jq -S . >"$out/releases.json"
api reader GET /api/v1/projects/shop/environments/test/versions | jq -S . >"$out/versions-test.json"
api reader GET /api/v1/projects/shop/environments/production/versions | jq -S . >"$out/versions-production.json"
api reader GET /api/v1/audit/verify | jq -S . >"$out/verify.json"
api reader GET '/api/v1/audit?limit=1000' | jq -S . >"$out/audit.json"
api reader GET '/api/v1/audit/export?format=csv' >"$out/audit.csv"
stop
"$bin" events verify --data "$data" >/dev/null

# The data directory, without what a read of it does not need (the demo's
# repository and targets, the workspace).
tar -C "$data" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -czf "$out/data.tar.gz" \
  events credentials.json projections.checkpoint known_hosts
echo "fixture written to $out"
