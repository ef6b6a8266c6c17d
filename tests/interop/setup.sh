#!/usr/bin/env bash
# Installs the independent HTTP-signature implementations that
# tests/interop/signature_peers.rs runs as peers, into target/interop/ (ignored):
#   - Python `http-message-signatures` (RFC 9421; Apache-2.0)
#   - Node `http-signature` (draft-cavage, Joyent's reference; MIT)
# Run once before `cargo test`; the tests skip with a notice when absent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/target/interop"
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then
  python3 -m venv "$dir/venv"
fi
"$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check 'http-message-signatures==3.0.0'
npm install --silent --no-audit --no-fund --prefix "$dir/node" 'http-signature@1.4.0' >/dev/null
echo "interop peers installed in $dir"
