#!/usr/bin/env bash
# Throw-away Dovecot (IMAP, IMAPS, LMTP) and Postfix (SMTP) on loopback, for development and tests.
#
#   deploy/mailservers.sh install        install the Debian packages if they are missing
#   deploy/mailservers.sh start DIR      start both servers with config and data under DIR
#   deploy/mailservers.sh stop DIR       stop the servers started in DIR (by PID)
#   deploy/mailservers.sh imap-stop DIR  stop only Dovecot (an IMAP outage); imap-start DIR restarts it
#   deploy/mailservers.sh smtp-stop DIR  stop only Postfix (an SMTP outage); smtp-start DIR restarts it
#   deploy/mailservers.sh install-cyrus  install Cyrus IMAP beside Dovecot (see below)
#   deploy/mailservers.sh cyrus-start DIR / cyrus-stop DIR
#                                        a throw-away Cyrus IMAP on CYRUS_PORT [11143], for the tests
#                                        that hold ascolto to a second IMAP server
#
# Ports come from the environment (defaults in brackets): IMAP_PORT [10143], IMAPS_PORT [10993],
# SMTP_PORT [10025], LMTP_PORT [10024]. Accounts (all with password "secret" unless MAIL_PASSWORD
# is set): urp@hospital.test, pec@hospital.test, operator@hospital.test, citizen@example.test,
# other@example.test, plus any in EXTRA_USERS (space separated). `start` writes DIR/servers.env with
# the ports and DIR/tls/ca.crt, the CA that signed the servers' certificate for localhost/127.0.0.1.
# With OAUTH2_INTROSPECTION_URL set, Dovecot also accepts SASL XOAUTH2 and OAUTHBEARER, checking
# each access token by POSTing it to that URL (RFC 7662: {"active": true, "username": "…"}); with
# AUTH_PORT set too, Postfix offers SMTP AUTH through Dovecot's authentication on that port.
# Nothing system-wide is touched: no service is enabled, /etc/dovecot and /etc/postfix are unused.
#
# Cyrus IMAP 3.6 is the second server: with its default settings an idling client hears of new mail
# only at Cyrus's own 60-second poll (`imapidlepoll`), the "lazy IDLE" ascolto must not depend on.
# Debian's cyrus-imapd package conflicts with dovecot-imapd (both provide imap-server), so
# `install-cyrus` installs cyrus-common (master, tools; no conflict) from Debian and unpacks
# cyrus-imapd's own files into /opt/cyrus-imapd without installing the package. The instance takes
# any password (`sasl_pwcheck_method: alwaystrue`) and creates a user's INBOX at first login; mail is
# added by IMAP APPEND, as the tests do.
set -euo pipefail

MAIL_UID=5000

die() { echo "mailservers: $*" >&2; exit 1; }

install_packages() {
    local missing=()
    # Each program the tests start, not one command per package: another IMAP server's package
    # can remove dovecot-imapd and leave the `dovecot` command in place.
    command -v dovecot >/dev/null || missing+=(dovecot-core)
    [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/imap-login ] || missing+=(dovecot-imapd)
    [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
    command -v postfix >/dev/null && [ -x /usr/lib/postfix/sbin/master ] || missing+=(postfix)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v script >/dev/null || missing+=(bsdutils)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_tls() {
    local d=$1/tls
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
        -subj "/CN=ascolto test CA" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > "$d/ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 3 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
    chmod 644 "$d"/*
}

write_dovecot() {
    local dir=$1 d=$1/dovecot
    mkdir -p "$d/run" "$d/state" "$dir/mail"
    chown "$MAIL_UID:$MAIL_UID" "$dir/mail"
    : > "$d/users"
    for u in $USERS; do echo "$u:{PLAIN}$MAIL_PASSWORD" >> "$d/users"; done
    local dh=""
    [ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
    local mechanisms="plain login" oauth2=""
    if [ -n "${OAUTH2_INTROSPECTION_URL:-}" ]; then
        mechanisms="plain login xoauth2 oauthbearer"
        printf '%s\n' "introspection_mode = post" "introspection_url = $OAUTH2_INTROSPECTION_URL" \
            "username_attribute = username" "active_attribute = active" "active_value = true" \
            "force_introspection = yes" > "$d/oauth2.conf.ext"
        oauth2="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $d/oauth2.conf.ext
}"
    fi
    cat > "$d/dovecot.conf" <<CONF
instance_name = ascolto-$(echo "$dir" | md5sum | cut -c1-12)
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
ssl = yes
ssl_cert = <$dir/tls/server.crt
ssl_key = <$dir/tls/server.key
$dh
disable_plaintext_auth = no
auth_mechanisms = $mechanisms
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_uid = $MAIL_UID
mail_gid = $MAIL_UID
first_valid_uid = 1
first_valid_gid = 1
mail_fsync = never
mail_max_userip_connections = 200
postmaster_address = postmaster@hospital.test
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u $d/users
}
$oauth2
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_UID home=$dir/mail/%d/%n allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF
    if [ -n "${AUTH_PORT:-}" ]; then
        cat >> "$d/dovecot.conf" <<CONF
service auth {
  inet_listener sasl {
    address = 127.0.0.1
    port = $AUTH_PORT
  }
}
CONF
    fi
}

write_postfix() {
    local dir=$1 p=$1/postfix
    mkdir -p "$p/queue" "$p/data"
    : > "$p/vmailbox"
    for u in $USERS; do echo "$u OK" >> "$p/vmailbox"; done
    # Any citizen address gets a mailbox (read from disk; IMAP logins only for $USERS).
    printf '%s\n' "@example.test OK" "@pec.example.test OK" >> "$p/vmailbox"
    cat > "$p/main.cf" <<CONF
compatibility_level = 3.6
config_directory = $p
queue_directory = $p/queue
data_directory = $p/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.hospital.test
mydomain = hospital.test
mydestination =
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = hospital.test example.test pec.example.test
virtual_mailbox_maps = texthash:$p/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
message_size_limit = 100000000
maillog_file = $p/postfix.log
maillog_file_prefixes = $dir
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
smtputf8_enable = yes
# Tests send exactly the bytes they mean: no From, Date or Message-ID added for loopback clients.
local_header_rewrite_clients =
CONF
    if [ -n "${AUTH_PORT:-}" ]; then
        printf '%s\n' "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
            "smtpd_sasl_path = inet:127.0.0.1:$AUTH_PORT" >> "$p/main.cf"
    fi
    cat > "$p/master.cf" <<CONF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
lmtp       unix  - - n -    - lmtp
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
CONF
    # Postfix waits while a config file was modified in the current second: back-date them.
    touch -d '-10 seconds' "$p/main.cf" "$p/master.cf" "$p/vmailbox"
    # Pre-create the queue with Postfix's owners so start-up does not run set-permissions.
    local q=$p/queue
    for s in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        install -d -o postfix -g root -m 0700 "$q/$s"
    done
    install -d -o postfix -g postdrop -m 0730 "$q/maildrop"
    install -d -o postfix -g postdrop -m 0710 "$q/public"
    install -d -o root -g root -m 0755 "$q/pid"
    chown postfix "$p/data"
    : > "$q/quick-start"
}

start() {
    local dir=$1
    [ "$(id -u)" -eq 0 ] || die "Postfix can run from a private directory only as root"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # Dovecot's uid and the dovecot user must traverse every parent of the data directory.
    local p=$dir
    while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    chmod 755 "$dir"
    make_tls "$dir"
    write_dovecot "$dir"
    write_postfix "$dir"
    start_dovecot "$dir"
    script -qec "postfix -c $dir/postfix start" /dev/null </dev/null >"$dir/postfix/stderr" 2>&1 ||
        die "postfix did not start: $(tail -5 "$dir/postfix/stderr")"
    cat > "$dir/servers.env" <<ENV
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
SMTP_PORT=$SMTP_PORT
LMTP_PORT=$LMTP_PORT
MAIL_PASSWORD=$MAIL_PASSWORD
CA_FILE=$dir/tls/ca.crt
ENV
    wait_port "$IMAP_PORT" && wait_port "$SMTP_PORT" || die "servers did not open their ports; see $dir/*/"
}

start_dovecot() {
    local dir=$1
    # Dovecot keeps the starting process's stderr open: never leave it on a pipe.
    dovecot -c "$dir/dovecot/dovecot.conf" </dev/null >/dev/null 2>"$dir/dovecot/stderr" ||
        die "dovecot did not start: $(cat "$dir/dovecot/stderr" "$dir/dovecot/dovecot.log" 2>/dev/null | tail -5)"
}

stop_dovecot() {
    local dir=$1 pidf=$1/dovecot/run/master.pid
    [ -f "$pidf" ] || return 0
    local pid
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    # A stopped daemon can linger as a zombie until PID 1 reaps it: count that as gone.
    for _ in $(seq 200); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        { [ "$state" = gone ] || [ "$state" = Z ]; } && break
        sleep 0.05
    done
    rm -f "$pidf"
}

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

stop() {
    local dir=$1
    if [ -f "$dir/postfix/queue/pid/master.pid" ]; then
        postfix -c "$dir/postfix" stop >/dev/null 2>&1 || true
    fi
    stop_dovecot "$dir"
}

CYRUS_BIN=/usr/lib/cyrus/bin
CYRUS_IMAPD=/opt/cyrus-imapd/usr/lib/cyrus/bin/imapd

install_cyrus() {
    [ -x "$CYRUS_BIN/master" ] && [ -x "$CYRUS_IMAPD" ] && return 0
    [ "$(id -u)" -eq 0 ] || die "need root to install Cyrus IMAP"
    if [ ! -x "$CYRUS_BIN/master" ]; then
        apt-get update -qq
        # Installing must not start (or leave enabled) a system-wide Cyrus: policy-rc.d refuses
        # the start for the duration of the install, and the unit it enables is disabled again.
        local policy=/usr/sbin/policy-rc.d ours=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && ours=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cyrus-common >/dev/null ||
            { [ -n "$ours" ] && rm -f "$policy"; die "cannot install cyrus-common"; }
        [ -n "$ours" ] && rm -f "$policy"
        rm -f /etc/systemd/system/multi-user.target.wants/cyrus-imapd.service
    fi
    if [ ! -x "$CYRUS_IMAPD" ]; then
        local tmp
        tmp=$(mktemp -d)
        # The version that matches cyrus-common's, unpacked, not installed (see the top).
        local version
        version=$(dpkg-query -W -f '${Version}' cyrus-common)
        (cd "$tmp" && chmod 777 . && apt-get download -qq "cyrus-imapd=$version" 2>/dev/null) ||
            { rm -rf "$tmp"; die "cannot download cyrus-imapd $version"; }
        mkdir -p /opt/cyrus-imapd
        dpkg-deb -x "$tmp"/cyrus-imapd_*.deb /opt/cyrus-imapd
        rm -rf "$tmp"
        [ -x "$CYRUS_IMAPD" ] || die "cyrus-imapd did not unpack $CYRUS_IMAPD"
    fi
}

cyrus_start() {
    local dir=$1 c
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    c=$dir/cyrus
    local p=$dir
    while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    mkdir -p "$c/conf" "$c/spool" "$c/sieve" "$c/run"
    cat > "$c/imapd.conf" <<CONF
configdirectory: $c/conf
partition-default: $c/spool
sievedir: $c/sieve
admins: admin
sasl_pwcheck_method: alwaystrue
allowplaintext: yes
sasl_mech_list: PLAIN LOGIN
unixhierarchysep: yes
virtdomains: userid
defaultdomain: hospital.test
servername: localhost
autocreate_quota: 0
idlesocket: $c/run/idle
lmtpsocket: $c/run/lmtp
notifysocket: $c/run/notify
mboxname_lockpath: $c/run/lock
proc_path: $c/run/proc
syslog_prefix: ascolto-test-cyrus
CONF
    cat > "$c/cyrus.conf" <<CONF
START {
  recover cmd="$CYRUS_BIN/ctl_cyrusdb -r -C $c/imapd.conf"
}
SERVICES {
  imap cmd="$CYRUS_IMAPD -C $c/imapd.conf" listen="127.0.0.1:$CYRUS_PORT" prefork=0
}
EVENTS {
}
DAEMON {
}
CONF
    chown -R cyrus:mail "$c"
    echo "CYRUS_PORT=$CYRUS_PORT" > "$c/servers.env"
    "$CYRUS_BIN/master" -C "$c/imapd.conf" -M "$c/cyrus.conf" -p "$c/run/master.pid" -l 64 \
        </dev/null >"$c/master.log" 2>&1 &
    wait_port "$CYRUS_PORT" || die "cyrus did not open port $CYRUS_PORT: $(tail -5 "$c/master.log")"
}

cyrus_stop() {
    local c=$1/cyrus pidf=$1/cyrus/run/master.pid
    [ -f "$pidf" ] || return 0
    local pid
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        { [ "$state" = gone ] || [ "$state" = Z ]; } && break
        sleep 0.05
    done
    # Its imapd children end with their connections; don't leave one behind.
    pkill -TERM -f "imapd -C $c/imapd.conf" 2>/dev/null || true
    rm -f "$pidf"
}

IMAP_PORT=${IMAP_PORT:-10143}
CYRUS_PORT=${CYRUS_PORT:-11143}
IMAPS_PORT=${IMAPS_PORT:-10993}
SMTP_PORT=${SMTP_PORT:-10025}
LMTP_PORT=${LMTP_PORT:-10024}
MAIL_PASSWORD=${MAIL_PASSWORD:-secret}
USERS="urp@hospital.test pec@hospital.test operator@hospital.test citizen@example.test other@example.test ${EXTRA_USERS:-}"

case "${1:-}" in
    install) install_packages ;;
    start) [ -n "${2:-}" ] || die "usage: $0 start DIR"; install_packages; start "$2" ;;
    stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; stop "$2" ;;
    # Take IMAP away and bring it back (outage tests); Postfix queues meanwhile.
    imap-stop) [ -n "${2:-}" ] || die "usage: $0 imap-stop DIR"; stop_dovecot "$2" ;;
    imap-start)
        [ -n "${2:-}" ] || die "usage: $0 imap-start DIR"
        # shellcheck disable=SC1091
        . "$2/servers.env"
        start_dovecot "$2" && wait_port "$IMAP_PORT" || die "dovecot did not come back"
        ;;
    # Take SMTP away and bring it back (notification delivery tests).
    smtp-stop) [ -n "${2:-}" ] || die "usage: $0 smtp-stop DIR"; postfix -c "$2/postfix" stop >/dev/null 2>&1 || true ;;
    smtp-start)
        [ -n "${2:-}" ] || die "usage: $0 smtp-start DIR"
        # shellcheck disable=SC1091
        . "$2/servers.env"
        script -qec "postfix -c $2/postfix start" /dev/null </dev/null >"$2/postfix/stderr" 2>&1 || die "postfix did not start"
        wait_port "$SMTP_PORT" || die "postfix did not come back"
        ;;
    install-cyrus) install_cyrus ;;
    cyrus-start) [ -n "${2:-}" ] || die "usage: $0 cyrus-start DIR"; install_cyrus; cyrus_start "$2" ;;
    cyrus-stop) [ -n "${2:-}" ] || die "usage: $0 cyrus-stop DIR"; cyrus_stop "$2" ;;
    *) die "usage: $0 install | start DIR | stop DIR | imap-stop DIR | imap-start DIR | smtp-stop DIR | smtp-start DIR | install-cyrus | cyrus-start DIR | cyrus-stop DIR" ;;
esac
