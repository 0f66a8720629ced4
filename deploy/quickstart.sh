#!/usr/bin/env bash
# Quick start for a newcomer (as root, on Debian 12): local Dovecot and Postfix on loopback,
# ascolto built and serving against them with its own SQLite file, a handful of sample
# complaints sent by SMTP, and the tickets that came out. Ctrl-C stops everything.
#
#   QUICKSTART_DIR    where everything lives (default /tmp/ascolto-quickstart)
#   QUICKSTART_EXIT=1 stop after showing the tickets instead of serving on
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir=${QUICKSTART_DIR:-/tmp/ascolto-quickstart}
export IMAP_PORT=${IMAP_PORT:-10143} IMAPS_PORT=${IMAPS_PORT:-10993} SMTP_PORT=${SMTP_PORT:-10025} LMTP_PORT=${LMTP_PORT:-10024}

[ "$(id -u)" -eq 0 ] || { echo "quickstart: run as root (it starts a private Postfix)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "quickstart: install Rust first (https://rustup.rs)" >&2; exit 1; }

deploy/mailservers.sh install
deploy/mailservers.sh stop "$dir/mail" 2>/dev/null || true
rm -rf "$dir"
mkdir -p "$dir"
echo "==> starting Dovecot (IMAP 127.0.0.1:$IMAP_PORT) and Postfix (SMTP 127.0.0.1:$SMTP_PORT) in $dir/mail"
deploy/mailservers.sh start "$dir/mail"

echo "==> building ascolto (release)"
cargo build --release --quiet
bin=$repo/target/release/ascolto

cat > "$dir/config.toml" <<CONF
[database]
path = "$dir/ascolto.sqlite3"

[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = $IMAP_PORT
security = "none"
username = "urp@hospital.test"
password = "secret"
poll_interval_secs = 5

[[mailbox]]
name = "pec"
host = "localhost"
port = $IMAPS_PORT
security = "tls"
ca_file = "$dir/mail/tls/ca.crt"
username = "pec@hospital.test"
password = "secret"
# A certified-mail box: envelopes are unwrapped, daticert.xml's time counts as received.
pec = true

# Notifications go through the local Postfix into the citizens' test mailboxes.
[smtp]
backend = "smtp"
host = "127.0.0.1"
port = $SMTP_PORT
security = "none"
from_address = "urp@hospital.test"
CONF
"$bin" --config "$dir/config.toml" check-config

echo "==> starting ascolto serve (log: $dir/ascolto.log)"
"$bin" --config "$dir/config.toml" serve >"$dir/ascolto.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    deploy/mailservers.sh stop "$dir/mail"
}
trap cleanup EXIT

echo "==> sending the sample complaints in deploy/samples/ by SMTP"
sent=0
for f in deploy/samples/*.eml; do
    to=urp@hospital.test
    case $f in *.pec.eml) to=pec@hospital.test ;; esac
    # The sample PEC is certified as sent a minute ago (a certified time far from the
    # mailbox's own receipt is only "declared", never the time of receipt).
    sed -e "s#<giorno>[0-9/]*</giorno>#<giorno>$(TZ=Etc/GMT-1 date -d '-1 minute' +%d/%m/%Y)</giorno>#" \
        -e "s#<ora>[0-9:]*</ora>#<ora>$(TZ=Etc/GMT-1 date -d '-1 minute' +%H:%M:%S)</ora>#" "$f" |
        sendmail -C "$dir/mail/postfix" -f citizen@example.test "$to"
    sent=$((sent + 1))
done

echo "==> waiting for $sent tickets"
for _ in $(seq 300); do
    n=$("$bin" --config "$dir/config.toml" export tickets --format json 2>/dev/null | wc -l || echo 0)
    [ "$n" -ge "$sent" ] && break
    sleep 0.2
done
echo
"$bin" --config "$dir/config.toml" export tickets --format table
echo
acks() { find "$dir/mail/mail/example.test" "$dir/mail/mail/pec.example.test" -path '*/Maildir/new/*' -type f 2>/dev/null | wc -l; }
for _ in $(seq 100); do [ "$(acks)" -ge "$sent" ] && break; sleep 0.1; done
echo "Acknowledgements delivered to the citizens' mailboxes: $(acks) (under $dir/mail/mail/example.test/)"
echo "Database: $dir/ascolto.sqlite3   Config: $dir/config.toml   Log: $dir/ascolto.log"
# The first administrator, as an IT department creates it; the password is printed once.
admin_password=$("$bin" --config "$dir/config.toml" user add admin@hospital.test --name "Amministratore URP" --role admin | sed -n 's/^password (shown only now): //p')
echo
echo "Backoffice: http://127.0.0.1:8080/  (sign in as admin@hospital.test, password: $admin_password)"
if [ "${QUICKSTART_EXIT:-0}" = 1 ]; then
    [ "$n" -ge "$sent" ] || { echo "quickstart: only $n of $sent tickets arrived" >&2; exit 1; }
    exit 0
fi
echo "ascolto is running. Send more mail to urp@hospital.test with:"
echo "  sendmail -C $dir/mail/postfix urp@hospital.test < message.eml"
echo "Press Ctrl-C to stop."
wait "$pid"
