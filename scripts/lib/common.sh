# shellcheck shell=bash
# Small helpers shared by the scripts (sourced; defines functions only).

# Bold progress lines on stderr.
# Bold on a terminal; plain in a log file, in CI, or with NO_COLOR set.
log() {
  if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
    printf '\033[1m==> %s\033[0m\n' "$*" >&2
  else
    printf '==> %s\n' "$*" >&2
  fi
}

# `port_open HOST PORT`: is something listening? (2 s at most)
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# `pg_login_ok URL`: can we log in (not just connect)? A stock Debian
# Postgres listens on 5432 but wants a password the tests do not have.
pg_login_ok() {
  command -v psql >/dev/null 2>&1 || return 0   # cannot tell: assume yes
  PGCONNECT_TIMEOUT=3 psql "$1/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

# A free TCP port on 127.0.0.1, from 20000-32767: below the range the
# kernel hands out for outgoing connections (32768 and up on Linux), so a
# client socket cannot take it between this check and the bind (the Rust
# tests pick theirs from the same range: integration-tests' ports helper).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 12768))
    port_open 127.0.0.1 "$port" || { echo "$port"; return; }
  done
  echo "no free port found" >&2; return 1
}

# `wait_until SECONDS CMD...`: runs CMD every 0.1 s until it succeeds
# (status 0) or SECONDS pass (status 1). The one polling loop of the scripts.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# `not_alive PIDFILE`: the process is gone (for wait_until).
not_alive() { ! alive "$1"; }

# `stop_pid PIDFILE [SECONDS]`: SIGTERM, up to SECONDS (default 15) for the
# process to drain and flush, then SIGKILL; removes the pid file. Returns 1
# when it had to kill.
stop_pid() {
  local pidfile=$1 grace=${2:-15} killed=0
  if alive "$pidfile"; then
    kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    if ! wait_until "$grace" not_alive "$pidfile"; then
      kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
      killed=1
    fi
  fi
  rm -f "$pidfile"
  return "$killed"
}

# host and port out of a URL like scheme://user:pw@host:port/db
url_host() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
url_port() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }

# `server_url URL`: the URL without its path (DATABASE_URL may name a database).
server_url() { local rest="${1#*://}"; echo "${1%%://*}://${rest%%/*}"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root to install packages (no sudo): $*" >&2; return 1
  fi
}

# `apt_install PACKAGE...`: installs what the tests need and is missing,
# saying so first. WORKSHOP_NO_INSTALL=1 turns installing off: then one line
# says what is missing and how to get it, and the caller stops.
apt_install() {
  if [ "${WORKSHOP_NO_INSTALL:-0}" = 1 ]; then
    echo "missing: $* (not installing: WORKSHOP_NO_INSTALL=1). Install it with: sudo apt-get install $*" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: $* (no apt-get here). Install it with your package manager, or point DATABASE_URL / REDIS_URL at running servers" >&2
    return 1
  fi
  log "$* is missing: installing it with apt-get (WORKSHOP_NO_INSTALL=1 turns this off)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

postgres_bin_dir() {
  local dir
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

# `as_user USER CMD...`: run CMD as USER (initdb refuses to run as root).
as_user() {
  if [ "$(id -un)" = "$1" ]; then shift; "$@"; else local u=$1; shift; runuser -u "$u" -- "$@"; fi
}

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
