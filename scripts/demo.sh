#!/usr/bin/env bash
# The demo: start the demo's carbon registry on loopback, migrate the SQLite file under
# instance/, load demo parties (one lot is retired on payment through that registry), keep the
# retire-on-payment job and the log's sequencer running, serve under gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${TANHUI_HOST:-127.0.0.1}
PORT=${TANHUI_PORT:-8000}
export TANHUI_PROFILE=embedded
export PUBLIC_BASE_URL="http://$HOST:$PORT"
export TANHUI_INSTANCE_PATH=${TANHUI_INSTANCE_PATH:-$PWD/instance}
mkdir -p "$TANHUI_INSTANCE_PATH"

# The demo's registry (scripts/fake_registry.py, docs/registry-protocol.md) on a free loopback
# port: it holds the Qingpu 2024 serials our record has available and knows YRD Select Retail.
# It runs in this script's process group, so stopping the demo stops it.
REGISTRY_URL_FILE="$TANHUI_INSTANCE_PATH/registry-url"
rm -f "$REGISTRY_URL_FILE"
"$BIN/python" scripts/fake_registry.py --host 127.0.0.1 --port 0 --url-file "$REGISTRY_URL_FILE" \
  --holding "YRDCI-QP-2023-001:YRDCI-QP-2024:2024:1000301-1001850" \
  --beneficiary "长三角优选超市:91310000MA1K3C7P2R" >> "$TANHUI_INSTANCE_PATH/registry.log" 2>&1 &
for _ in $(seq 100); do [ -s "$REGISTRY_URL_FILE" ] && break; sleep 0.1; done
REGISTRY_URL=$(cat "$REGISTRY_URL_FILE")
export REGISTRY_URL REGISTRY_ACCOUNT=TANHUI-PLATFORM
export REGISTRY_API_KEY=demo-registry-key-0123456789abcdef

"$BIN/tanhui" db upgrade
"$BIN/tanhui" demo seed > "$TANHUI_INSTANCE_PATH/demo-logins.txt"
"$BIN/tanhui" credits retire-pending --follow >> "$TANHUI_INSTANCE_PATH/retire-pending.log" 2>&1 &
# A witness of the demo's own (tools/tanhui-witness.py, on a free loopback port, its key and
# state under instance/): it cosigns each checkpoint that extends the last it cosigned.
WITNESS_URL_FILE="$TANHUI_INSTANCE_PATH/witness-url"
rm -f "$WITNESS_URL_FILE"
LOG_ORIGIN=${TLOG_ORIGIN:-tanhui.local/log}
"$BIN/python" tools/tanhui-witness.py --name witness.demo.tanhui/w1 \
  --key-file "$TANHUI_INSTANCE_PATH/witness.key" --state "$TANHUI_INSTANCE_PATH/witness-state.json" \
  --log "$LOG_ORIGIN=$("$BIN/tanhui" log key)" --port 0 --url-file "$WITNESS_URL_FILE" \
  > "$TANHUI_INSTANCE_PATH/witness.log" 2>&1 &
for _ in $(seq 100); do
  [ -s "$WITNESS_URL_FILE" ] && [ -s "$TANHUI_INSTANCE_PATH/witness.log" ] && break; sleep 0.1
done
export TLOG_WITNESSES="$(head -n 1 "$TANHUI_INSTANCE_PATH/witness.log") $(cat "$WITNESS_URL_FILE")"
# The log's sequencer, as beside every deployment's web workers: what the demo writes from now
# on is signed into the transparency log within a second, and cosigned by the witness.
"$BIN/tanhui" log sequence --follow >> "$TANHUI_INSTANCE_PATH/sequencer.log" 2>&1 &
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
  Transparency log  http://$HOST:$PORT/log   (checkpoint and tiles under /log/; the verifier
                                             at /log/tanhui-verify.py)
  Witness (demo)    $(cat "$WITNESS_URL_FILE")   (cosigns the log's checkpoints)
  Registry (demo)   $REGISTRY_URL   (retires on payment; log: instance/registry.log)

  Demo sign-in:     curl -s http://$HOST:$PORT/api/v1/auth/password \\
                      -H 'Content-Type: application/json' \\
                      -d '{"username": "operator", "password": "tanhui-demo-2026"}'

Demo logins (role, username / password):
$(sed 's/^/  /' "$TANHUI_INSTANCE_PATH/demo-logins.txt")

MSG
exec "$BIN/gunicorn" --config python:service.gunicorn_config --bind "$HOST:$PORT" wsgi:app
