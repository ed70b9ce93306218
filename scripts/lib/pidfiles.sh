# shellcheck shell=bash
# Pid files of the processes scripts/dev-up.sh starts (sourced by it and by
# scripts/dev-down.sh).

# `alive PIDFILE`: is the process it names still running, and still ours?
# (A pid file can outlive a reboot; its pid may now belong to anything.)
alive() {
  [ -f "$1" ] || return 1
  local pid name
  pid=$(cat "$1"); name=$(basename "$1" .pid)
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0   # no /proc (macOS): trust kill -0
  case "$name" in sink) name=lab ;; redis) name=redis-server ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"
}
