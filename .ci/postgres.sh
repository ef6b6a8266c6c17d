#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on 127.0.0.1 for the delivery-queue
# tests, unless ARCHIPEL_TEST_PG_URL already names one.
#
#   eval "$(bash .ci/postgres.sh)"   # exports ARCHIPEL_TEST_PG_URL
#   bash .ci/postgres.sh stop        # stops the server this script started
#
# Progress goes to stderr; stdout carries only the `export` line (also
# written to target/pg_url). Installs Debian's `postgresql` package when no
# server binaries are found. Exits non-zero when no server can be started;
# the tests then skip with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
state=target/pg_state

log() { echo "postgres.sh: $*" >&2; }

if [ "${1:-}" = "stop" ]; then
    if [ -f "$state" ]; then
        # shellcheck disable=SC1090
        . "$state"
        $PG_RUN "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >&2 || true
        case "$PG_DATA" in /tmp/archipel-pg.*/data) rm -rf "$(dirname "$PG_DATA")" ;; esac
        rm -f "$state" target/pg_url
    fi
    exit 0
fi

if [ -n "${ARCHIPEL_TEST_PG_URL:-}" ]; then
    log "using the server given in ARCHIPEL_TEST_PG_URL"
    echo "export ARCHIPEL_TEST_PG_URL='$ARCHIPEL_TEST_PG_URL'"
    exit 0
fi

find_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

if ! PG_BIN=$(find_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "no PostgreSQL binaries: installing the distribution's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >&2
        apt-get install -y --no-install-recommends postgresql >&2
    fi
    PG_BIN=$(find_bin) || { log "PostgreSQL is not installed and could not be installed"; exit 1; }
fi
log "server binaries in $PG_BIN"

# initdb and postgres refuse to run as root: use the `postgres` account.
PG_RUN=""
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres >&2
    fi
    PG_RUN="runuser -u postgres --"
fi

PG_ROOT=$(mktemp -d /tmp/archipel-pg.XXXXXX)
chmod 755 "$PG_ROOT"
PG_DATA="$PG_ROOT/data"
[ -n "$PG_RUN" ] && chown postgres "$PG_ROOT"
$PG_RUN "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --no-sync >"$PG_ROOT/initdb.log" 2>&1 ||
    { cat "$PG_ROOT/initdb.log" >&2; log "initdb failed"; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in 1 2 3 4 5 6 7 8; do
    port=$(( 20000 + RANDOM % 40000 ))
    port_free "$port" || continue
    if $PG_RUN "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w -t 60 \
        -o "-k $PG_ROOT -p $port -h 127.0.0.1 -c max_connections=200" start >&2; then
        started=$port
        break
    fi
done
[ -n "$started" ] || { cat "$PG_ROOT/server.log" >&2 || true; log "could not start the server"; exit 1; }

$PG_RUN "$PG_BIN/createdb" -h 127.0.0.1 -p "$started" -U postgres archipel_test >&2
url="postgres://postgres@127.0.0.1:$started/archipel_test"
printf 'PG_BIN=%q\nPG_DATA=%q\nPG_RUN=%q\n' "$PG_BIN" "$PG_DATA" "$PG_RUN" >"$state"
echo "$url" >target/pg_url
log "PostgreSQL running at $url (data in $PG_DATA)"
echo "export ARCHIPEL_TEST_PG_URL='$url'"
