#!/bin/bash
# Verifier: the config keeps the defaults, changes port and tls, adds [limits].
mkdir -p /logs/verifier
cfg=/srv/app/config.ini
section() { awk -v s="[$1]" '$0==s{on=1;next} /^\[/{on=0} on' "$cfg" 2>/dev/null; }
val() { section "$1" | sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" | tr -d '[:space:]'; }
ok=1
[ -f "$cfg" ] || { echo "FAIL no $cfg"; ok=0; }
[ "$(val server host)" = "0.0.0.0" ] || { echo "FAIL server.host"; ok=0; }
[ "$(val server port)" = "8443" ] || { echo "FAIL server.port"; ok=0; }
[ "$(val server tls)" = "on" ] || { echo "FAIL server.tls"; ok=0; }
[ "$(val log level)" = "info" ] || { echo "FAIL log.level"; ok=0; }
[ "$(val limits max_clients)" = "64" ] || { echo "FAIL limits.max_clients"; ok=0; }
echo "$ok" > /logs/verifier/reward.txt
[ "$ok" = 1 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
