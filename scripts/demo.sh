#!/usr/bin/env bash
# The demo: migrate the SQLite file under instance/, load demo parties, serve under gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${TANHUI_HOST:-127.0.0.1}
PORT=${TANHUI_PORT:-8000}
export TANHUI_PROFILE=embedded
export PUBLIC_BASE_URL="http://$HOST:$PORT"
export TANHUI_INSTANCE_PATH=${TANHUI_INSTANCE_PATH:-$PWD/instance}
mkdir -p "$TANHUI_INSTANCE_PATH"
"$BIN/tanhui" db upgrade
"$BIN/tanhui" demo seed > "$TANHUI_INSTANCE_PATH/demo-logins.txt"
cat <<MSG

Tanhui demo, serving on http://$HOST:$PORT (Ctrl-C stops it)

  Public portal     http://$HOST:$PORT/
  Console           http://$HOST:$PORT/admin/   (operator, certifier or auditor below)
  Enterprise desk   http://$HOST:$PORT/desk/    (lianta or tongli below)
  A reader's points http://$HOST:$PORT/me/      (signs in through WeChat's web authorisation:
                                                 set WECHAT_WEB_APPID and WECHAT_WEB_SECRET)
  Health            http://$HOST:$PORT/healthz
  Readiness         http://$HOST:$PORT/readyz
  API description   http://$HOST:$PORT/api/openapi.json
  Metrics           http://$HOST:$PORT/metrics

  Demo sign-in:     curl -s http://$HOST:$PORT/api/v1/auth/password \\
                      -H 'Content-Type: application/json' \\
                      -d '{"username": "operator", "password": "tanhui-demo-2026"}'

Demo logins (role, username / password):
$(sed 's/^/  /' "$TANHUI_INSTANCE_PATH/demo-logins.txt")

MSG
exec "$BIN/gunicorn" --config python:service.gunicorn_config --bind "$HOST:$PORT" wsgi:app
