# Shared shell helpers for ./run, ./test and the scripts in this folder.
# Source it; it defines functions only.

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# apt_install PKG... : install Debian packages that are missing (one apt-get update per run).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "${PIERRE_APT_UPDATED:-}" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export PIERRE_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || { log "cargo not found: install Rust (https://rustup.rs) first"; return 1; }
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

# pg_start ROOT PORT [test] : start (creating if needed) a PostgreSQL cluster under ROOT,
# listening on 127.0.0.1:PORT and a socket in ROOT. "test" trades durability for speed.
pg_start() {
  local root="$1" port="$2" mode="${3:-}"
  apt_install postgresql postgresql-contrib
  local bin; bin="$(pg_bin)"
  mkdir -p "$root"
  local runas=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$root"; runas=(runuser -u postgres --); fi
  if [ ! -f "$root/data/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $root/data"
    "${runas[@]}" "$bin/initdb" -D "$root/data" -U postgres --auth-local=trust --auth-host=trust \
      -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  if "${runas[@]}" "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then return 0; fi
  local opts="-c listen_addresses=127.0.0.1 -p $port -k $root -c max_connections=300"
  if [ "$mode" = test ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
  "${runas[@]}" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 -o "$opts" start >/dev/null
}

pg_stop() {
  local root="$1" bin; bin="$(pg_bin)"
  [ -f "$root/data/PG_VERSION" ] || return 0
  local runas=()
  [ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
  "${runas[@]}" "$bin/pg_ctl" -D "$root/data" -m fast stop >/dev/null 2>&1 || true
}

# pg_ensure_db PORT ROOT NAME : create database NAME if it does not exist.
pg_ensure_db() {
  local port="$1" root="$2" name="$3"
  psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
}
