# Sourced by the desktop smoke tests (not run on its own): a desktop of the
# test's own on this machine, with nothing of the machine's session in it.
#
#   desktop_session WORK FIRST_DISPLAY  an Xvfb display (the first free one
#                                       from FIRST_DISPLAY) and a session bus
#                                       at WORK/bus; exports DISPLAY and
#                                       DBUS_SESSION_BUS_ADDRESS; their pids
#                                       are appended to the caller's pids array
#   notification_daemon WORK            dunst on that bus, printing each
#                                       notification it shows to WORK/dunst.log
#   wait_for_window TITLE SECONDS       waits until a window titled exactly
#                                       TITLE exists; prints its id
#
# The caller sets -euo pipefail, defines pids=() and kills them on exit.

desktop_session() {
  local work=$1 d=$2
  while [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ]; do d=$((d + 1)); done
  Xvfb ":$d" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$d" ] && break; sleep 0.1; done
  [ -e "/tmp/.X11-unix/X$d" ] || { echo "desktop-session: Xvfb :$d did not start" >&2; cat "$work/xvfb.log" >&2; return 1; }
  export DISPLAY=":$d"

  # A session bus answering only what the test starts on it: no service is
  # activated from this machine's files, so nothing outside the test (an
  # accessibility bus, a portal) can slow or change the window.
  cat >"$work/bus.conf" <<BUS
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
BUS
  dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile >"$work/dbus.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$work/bus" ] && break; sleep 0.1; done
  [ -S "$work/bus" ] || { echo "desktop-session: the session bus did not start" >&2; cat "$work/dbus.log" >&2; return 1; }
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$work/bus"
}

notification_daemon() {
  local work=$1
  # dunst's defaults, not this machine's configuration.
  : >"$work/dunstrc"
  dunst -config "$work/dunstrc" -print >"$work/dunst.log" 2>"$work/dunst.err" &
  pids+=($!)
  for _ in $(seq 100); do dunstctl is-paused >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "desktop-session: no notification daemon (dunst) on the test's session bus" >&2
  cat "$work/dbus.log" "$work/dunst.err" >&2
  return 1
}

# One `xdotool search --sync` is not enough: xdotool exits on the first X
# error, and a window destroyed while it walks the tree (WebKit's and
# dunst's come and go at start) is one. So the search is asked again until
# it finds the window or the time is up. WebKit's first window takes
# seconds, far more on a loaded two-core machine: the wait is for
# readiness, not a timing target.
wait_for_window() {
  local title=$1 seconds=$2 out="" id=""
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt $deadline ]; do
    out=$(xdotool search --name "^$title\$" 2>&1) || true
    id=$(echo "$out" | grep -E '^[0-9]+$' | head -n 1 || true)
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.5
  done
  echo "desktop-session: no window titled '$title' within $seconds s; windows with a name:" >&2
  for w in $(xdotool search --name . 2>/dev/null || true); do
    echo "  $w '$(xdotool getwindowname "$w" 2>/dev/null || true)'" >&2
  done
  [ -z "$out" ] || echo "  (xdotool last said: $out)" >&2
  return 1
}
