#!/bin/bash
cd "${APP_HOME:-/srv/app}"
sed -e 's/^port = .*/port = 8443/' -e 's/^tls = .*/tls = on/' defaults.ini > config.ini
printf '\n[limits]\nmax_clients = 64\n' >> config.ini
