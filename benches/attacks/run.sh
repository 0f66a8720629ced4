#!/bin/bash
# The attacks of issue 11, findings 5 and 12, against a release binary, with its peak RSS:
#   benches/attacks/run.sh target/release/ascolto signin     200 parallel sign-ins, unknown accounts
#   benches/attacks/run.sh target/release/ascolto account    150 parallel wrong passwords, one account
#   benches/attacks/run.sh target/release/ascolto download   8 concurrent downloads of a 50 MiB attachment
# Starts BINARY on a fresh database, runs the attack, prints the daemon's peak RSS (VmHWM).
set -euo pipefail
BIN=$1; WHAT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > $DIR/config.toml <<CFG
[database]
path = "$DIR/db.sqlite3"
[smtp]
backend = "file"
file_dir = "$DIR/sent"
from_address = "urp@hospital.test"
[web]
bind = "127.0.0.1:$PORT"
base_url = "http://127.0.0.1:$PORT"
CFG
mkdir $DIR/inbox
if [ "$WHAT" = download ]; then
  python3 "$HERE/bigmail.py" $DIR/inbox/0001.eml > $DIR/sha256
else
  printf 'From: c@example.test\r\nTo: urp@hospital.test\r\nSubject: x\r\nMessage-ID: <m1@example.test>\r\n\r\nciao\r\n' > $DIR/inbox/0001.eml
fi
$BIN --config $DIR/config.toml import $DIR/inbox > /dev/null
for r in operator admin; do
  echo una-password-lunga | $BIN --config $DIR/config.toml user add $r@hospital.test --name "U $r" --role $r --password-stdin > /dev/null
done
env ${EXTRA_ENV:-} $BIN --config $DIR/config.toml serve > $DIR/serve.log 2>&1 &
PID=$!
trap "kill $PID 2>/dev/null; rm -rf $DIR" EXIT
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/accedi && break; sleep 0.1; done
echo "idle: $(grep VmRSS /proc/$PID/status)"
NUMBER=$(sqlite3 $DIR/db.sqlite3 "SELECT number FROM tickets LIMIT 1" 2>/dev/null || python3 -c "import sqlite3,sys; print(sqlite3.connect('$DIR/db.sqlite3').execute('SELECT number FROM tickets LIMIT 1').fetchone()[0])")
if [ "$WHAT" = signin ] || [ "$WHAT" = account ]; then
  if [ "$WHAT" = signin ]; then N=200; else N=150; fi
  /usr/bin/time -f "client: %e s" python3 "$HERE/flood.py" $WHAT http://127.0.0.1:$PORT $N
  echo "verified (password checks metric): $(curl -s http://127.0.0.1:$PORT/metrics | grep '^ascolto_password_checks_total' || echo 'n/a')"
  echo "audited login_failed: $(python3 -c "import sqlite3; print(sqlite3.connect('$DIR/db.sqlite3').execute(\"SELECT count(*) FROM audit_log WHERE action='user.login_failed'\").fetchone()[0])")"
else
  /usr/bin/time -f "client: %e s" python3 "$HERE/flood.py" download http://127.0.0.1:$PORT 8 $(cat $DIR/sha256) $NUMBER
fi
echo "peak: $(grep VmHWM /proc/$PID/status)"; grep Threads /proc/$PID/status; awk "/^[0-9a-f]+-[0-9a-f]+ /{name=\$0} /^Rss:/{ if (\$2 > 4000) print \$2, name}" /proc/$PID/smaps | sort -rn | head -12
