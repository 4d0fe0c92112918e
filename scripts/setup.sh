#!/usr/bin/env bash
# Installs what Release Desk needs to build and test on Debian 12, and nothing
# twice: apt packages only when one is missing, npm ci only when the lock file
# changed since the last install, then the Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config git ca-certificates
  libgtk-3-dev libwebkit2gtk-4.1-dev          # the Wails window
  openssh-client openssh-server rsync iproute2 # real hosts in tests
  xvfb xauth xdotool imagemagick fonts-noto-color-emoji curl # the window under Xvfb
  dbus-x11 dunst                               # its desktop notifications: a session bus, a daemon
  chromium                                     # browser tests
  fonts-noto-cjk                               # the Chinese UI, in the window and the browser
  postgresql                                   # the event log on PostgreSQL: tests start their own cluster
)

missing=()
if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  # Not Debian (Windows, macOS, another Linux): the build needs only Go and
  # Node here; the window's needs are the platform's own (README, "On
  # Windows and macOS"), and the tests' sshd, rsync, PostgreSQL and Chromium
  # are Debian's.
  echo "setup: no apt here: installing nothing but the npm packages and Go modules"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required (Go 1.26, Node.js 20, npm 10+)" >&2; exit 1; }
done

# npm ci only when package-lock.json changed since node_modules was made.
stamp=frontend/node_modules/.releasedesk-lock
if [ ! -f "$stamp" ] || ! cmp -s frontend/package-lock.json "$stamp"; then
  echo "setup: npm ci"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  cp frontend/package-lock.json "$stamp"
fi

go mod download
