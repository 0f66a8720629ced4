#!/usr/bin/env bash
# Builds ascolto and installs it as a systemd service on this Debian machine.
#
#   deploy/install.sh                     as root: build, install, enable (does not start)
#   deploy/install.sh --with-litestream   also Litestream, continuous replication of the database
#
# What goes where:
#   /usr/local/bin/ascolto                     the binary
#   /etc/ascolto/config.toml                   the configuration (first install only; 0640 root:ascolto)
#   /etc/ascolto/ascolto.env                   secrets as ASCOLTO__… variables (first install only; 0600)
#   /etc/ascolto/templates/                    the hospital's copies of the mail templates (never overwritten)
#   /var/lib/ascolto/                          the database (the service's StateDirectory)
#   /var/backups/ascolto/                      nightly backups (ascolto-backup.timer)
#   /etc/systemd/system/ascolto.service, ascolto-backup.service, ascolto-backup.timer
#   /etc/systemd/system/ascolto.socket         socket activation for the backoffice (not enabled)
# and with --with-litestream:
#   /opt/litestream/, /usr/local/bin/litestream   Litestream from PyPI (deploy/install-litestream.sh)
#   /etc/litestream.yml                        which replica (first install only; 0640 root:ascolto)
#   /etc/ascolto/litestream.env                the replica's secrets (first install only; 0600)
#   /etc/systemd/system/litestream.service     replication, as the ascolto user
#
# DESTDIR=/some/root installs the files under that root only (no user, no systemctl): for
# packaging and for the tests. ASCOLTO_BIN=path uses an already built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
DESTDIR=${DESTDIR:-}
WITH_LITESTREAM=
for arg in "$@"; do
    case "$arg" in
        --with-litestream) WITH_LITESTREAM=1 ;;
        *) echo "install: unknown option $arg (known: --with-litestream)" >&2; exit 2 ;;
    esac
done

die() { echo "install: $*" >&2; exit 1; }

if [ -z "$DESTDIR" ]; then
    [ "$(id -u)" -eq 0 ] || die "run as root (or set DESTDIR)"
fi
BIN=${ASCOLTO_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release --locked
    BIN=target/release/ascolto
fi
[ -x "$BIN" ] || die "no binary at $BIN"

owner() { if [ -z "$DESTDIR" ]; then chown "$@"; fi; }

if [ -z "$DESTDIR" ] && ! id ascolto >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/ascolto --no-create-home \
        --shell /usr/sbin/nologin --comment "ascolto complaints desk" ascolto
fi

install -d "$DESTDIR/usr/local/bin" "$DESTDIR/etc/systemd/system"
install -m 0755 "$BIN" "$DESTDIR/usr/local/bin/ascolto"

install -d -m 0750 "$DESTDIR/etc/ascolto" "$DESTDIR/etc/ascolto/templates"
owner root:ascolto "$DESTDIR/etc/ascolto" "$DESTDIR/etc/ascolto/templates"
if [ ! -e "$DESTDIR/etc/ascolto/config.toml" ]; then
    # The shipped configuration, with the service's paths.
    sed -e 's|^path = "ascolto.sqlite3"|path = "/var/lib/ascolto/ascolto.sqlite3"|' \
        -e 's|^# templates_dir = "/etc/ascolto/templates"|templates_dir = "/etc/ascolto/templates"|' \
        config.toml > "$DESTDIR/etc/ascolto/config.toml"
    chmod 0640 "$DESTDIR/etc/ascolto/config.toml"
    owner root:ascolto "$DESTDIR/etc/ascolto/config.toml"
fi
if [ ! -e "$DESTDIR/etc/ascolto/ascolto.env" ]; then
    printf '%s\n' "# Secrets for ascolto.service, e.g.:" "# ASCOLTO__MAILBOX__0__PASSWORD=…" \
        "# ASCOLTO__SMTP__PASSWORD=…" > "$DESTDIR/etc/ascolto/ascolto.env"
    chmod 0600 "$DESTDIR/etc/ascolto/ascolto.env"
fi
# The templates as shipped, for the hospital to edit; an edited copy is never overwritten.
for t in templates/*.txt templates/README.md; do
    [ -e "$DESTDIR/etc/ascolto/$t" ] || install -m 0640 "$t" "$DESTDIR/etc/ascolto/$t"
done
owner -R root:ascolto "$DESTDIR/etc/ascolto/templates"

install -d -m 0750 "$DESTDIR/var/lib/ascolto" "$DESTDIR/var/backups/ascolto"
owner ascolto:ascolto "$DESTDIR/var/lib/ascolto" "$DESTDIR/var/backups/ascolto"

install -m 0644 deploy/ascolto.service deploy/ascolto-backup.service deploy/ascolto-backup.timer \
    deploy/ascolto.socket "$DESTDIR/etc/systemd/system/"

if [ -n "$WITH_LITESTREAM" ]; then
    if [ -z "$DESTDIR" ]; then
        deploy/install-litestream.sh
    fi
    if [ ! -e "$DESTDIR/etc/litestream.yml" ]; then
        install -m 0640 deploy/litestream.yml "$DESTDIR/etc/litestream.yml"
        owner root:ascolto "$DESTDIR/etc/litestream.yml"
    fi
    if [ ! -e "$DESTDIR/etc/ascolto/litestream.env" ]; then
        printf '%s\n' "# Secrets for litestream.service, e.g.:" "# LITESTREAM_ACCESS_KEY_ID=…" \
            "# LITESTREAM_SECRET_ACCESS_KEY=…" > "$DESTDIR/etc/ascolto/litestream.env"
        chmod 0600 "$DESTDIR/etc/ascolto/litestream.env"
    fi
    install -m 0644 deploy/litestream.service "$DESTDIR/etc/systemd/system/"
    # ascolto watches the replica once told where Litestream is (first install's config only:
    # an edited config is the hospital's).
    if ! grep -q '^\[replication\]' "$DESTDIR/etc/ascolto/config.toml"; then
        printf '\n%s\n%s\n' "[replication]" \
            'litestream_db_path = "/var/lib/ascolto/ascolto.sqlite3"' >> "$DESTDIR/etc/ascolto/config.toml"
    fi
fi

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable ascolto.service ascolto-backup.timer
    if [ -n "$WITH_LITESTREAM" ]; then
        systemctl enable litestream.service
    fi
fi
"$DESTDIR/usr/local/bin/ascolto" --version 2>/dev/null || true
cat <<'NEXT'
Installed. Next:
  1. edit /etc/ascolto/config.toml (mailboxes, [smtp], [web] base_url) and put the secrets in
     /etc/ascolto/ascolto.env; check with: ASCOLTO_CONFIG=/etc/ascolto/config.toml ascolto check-config
  2. create the first administrator:
     sudo -u ascolto ASCOLTO_CONFIG=/etc/ascolto/config.toml ascolto user add EMAIL --name NAME --role admin --password-stdin
  3. systemctl start ascolto; journalctl -u ascolto -f; curl -s http://127.0.0.1:8080/healthz
NEXT
if [ -n "$WITH_LITESTREAM" ]; then
    cat <<'NEXT'
  4. choose the replica in /etc/litestream.yml (S3-compatible store, SFTP, or a mounted
     directory), its secrets in /etc/ascolto/litestream.env; then systemctl start litestream
     (/healthz reports "replication" once ascolto is restarted with [replication] set)
NEXT
fi
