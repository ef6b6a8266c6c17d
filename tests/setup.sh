#!/usr/bin/env bash
# Everything the test suite needs beyond cargo, installed from the package
# registries and started on loopback; safe to run again (it reuses what is
# already there):
#   - the HTTP-signature peers (Python `http-message-signatures`, Node
#     `http-signature`) in target/interop/;
#   - the Fedify ActivityPub peer (npm) in tests/interop/fedify/node_modules/;
#   - the Fedify 2 peer (npm; FEP-044f quote posts, Move) in
#     tests/interop/fedify2/node_modules/;
#   - a throw-away PostgreSQL server on 127.0.0.1 for the durable-queue
#     tests, its URL written to target/pg_url (read by the tests);
#   - Debian's Chromium (/usr/bin/chromium) for the bookwyrm_like page
#     tests, which drive it headless against pages served on loopback.
# Tests whose peer is missing print a notice and skip, unless
# ARCHIPEL_REQUIRE_PEERS=1 (set by .ci/run): then they fail, and so does this
# script when it cannot provide a peer (any failed step stops it).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== signature interop peers"
bash tests/interop/setup.sh

echo "== Fedify interop peer"
bash tests/interop/fedify/setup.sh

echo "== Fedify 2 interop peer (quote posts, Move)"
bash tests/interop/fedify2/setup.sh

echo "== PostgreSQL for the delivery-queue tests"
reuse=""
if [ -s target/pg_url ] && command -v psql >/dev/null 2>&1 &&
    psql "$(cat target/pg_url)" -qAtc 'select 1' >/dev/null 2>&1; then
    reuse=1
    echo "reusing the server at $(cat target/pg_url)"
fi
if [ -z "$reuse" ]; then
    rm -f target/pg_url
    if ! bash .ci/postgres.sh >/dev/null; then
        if [ "${ARCHIPEL_REQUIRE_PEERS:-}" = 1 ]; then
            echo "error: no PostgreSQL server could be started (ARCHIPEL_REQUIRE_PEERS=1)" >&2
            exit 1
        fi
        echo "notice: no PostgreSQL server could be started; the PostgreSQL queue tests will skip"
    fi
fi

echo "== Chromium for the bookwyrm_like page tests"
if [ -x /usr/bin/chromium ]; then
    echo "reusing /usr/bin/chromium"
else
    sudo=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null ||
        [ ! -x /usr/bin/chromium ]; then
        if [ "${ARCHIPEL_REQUIRE_PEERS:-}" = 1 ]; then
            echo "error: Debian's chromium could not be installed (ARCHIPEL_REQUIRE_PEERS=1)" >&2
            exit 1
        fi
        echo "notice: Debian's chromium could not be installed; the bookwyrm_like page tests will skip"
    fi
fi
