# Sourced by scripts/test.sh: find PostgreSQL and Redis on 127.0.0.1, or install and start them,
# then export TEST_DATABASE_URL (a fresh database for this run) and TEST_REDIS_URL; find or
# install Debian's chromium for the browser tests (TEST_CHROMIUM).
#
# Under CI=true a service that cannot be had is a hard failure; elsewhere the tests that need it
# are skipped, and pytest says why.

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
REDIS_PORT=${REDIS_PORT:-6379}

_say() { printf 'services: %s\n' "$*" >&2; }

_can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

_apt_install() {
    _say "installing $*"
    if [ -z "${_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

_pg_up() {
    "$VENV_PYTHON" - "$PG_HOST" "$PG_PORT" "$PG_USER" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3], dbname="postgres",
                connect_timeout=3).close()
PY
}

_redis_up() {
    "$VENV_PYTHON" - "$REDIS_PORT" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_connect_timeout=3).ping()
PY
}

ensure_postgres() {
    _pg_up && return 0
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        _can_install || { _say "PostgreSQL is not running and cannot be installed here"; return 1; }
        _apt_install postgresql || return 1
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main >&2 || return 1
    fi
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba" 2>/dev/null; then
        _say "allowing local TCP connections without a password (test machine)"
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    _say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 \
        || pg_ctlcluster --skip-systemctl-redirect "$version" main reload >&2 || true
    for _ in $(seq 1 30); do _pg_up && return 0; sleep 1; done
    _say "PostgreSQL did not come up"
    return 1
}

ensure_redis() {
    _redis_up && return 0
    if ! command -v redis-server >/dev/null 2>&1; then
        _can_install || { _say "Redis is not running and cannot be installed here"; return 1; }
        _apt_install redis-server || return 1
    fi
    _say "starting Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/tanhui-test.log >&2
    for _ in $(seq 1 30); do _redis_up && return 0; sleep 1; done
    _say "Redis did not come up"
    return 1
}

# The browser tests drive Debian's chromium (Playwright's own downloads are not used), with CJK
# fonts so screenshots show the Chinese pages as people see them.
ensure_browser() {
    local chromium=${TEST_CHROMIUM:-/usr/bin/chromium}
    if [ ! -x "$chromium" ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
        _can_install || { _say "chromium or CJK fonts are missing and cannot be installed here"; return 1; }
        _apt_install chromium fonts-noto-cjk || return 1
    fi
    export TEST_CHROMIUM="$chromium"
}

services_up() {
    local failed=""
    if [ -z "${TEST_CHROMIUM:-}" ]; then
        ensure_browser || failed="$failed chromium"
    fi
    if [ -z "${TEST_DATABASE_URL:-}" ]; then
        if ensure_postgres; then
            TEST_DATABASE_NAME="tanhui_test_$(date +%Y%m%d%H%M%S)_$$"
            "$VENV_PYTHON" scripts/fresh_database.py create "$PG_HOST" "$PG_PORT" "$PG_USER" \
                "$TEST_DATABASE_NAME" || failed="$failed PostgreSQL"
            export TEST_DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$TEST_DATABASE_NAME"
            export TEST_DATABASE_NAME
        else
            failed="$failed PostgreSQL"
        fi
    fi
    if [ -z "${TEST_REDIS_URL:-}" ]; then
        if ensure_redis; then
            export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
        else
            failed="$failed Redis"
        fi
    fi
    if [ -n "$failed" ]; then
        if [ "${CI:-}" = "true" ]; then
            _say "FAILED: could not provide$failed; CI does not skip them"
            return 1
        fi
        _say "WARNING: could not provide$failed; those tests will be skipped"
    fi
    return 0
}

services_down() {
    if [ -n "${TEST_DATABASE_NAME:-}" ]; then
        "$VENV_PYTHON" scripts/fresh_database.py drop "$PG_HOST" "$PG_PORT" "$PG_USER" \
            "$TEST_DATABASE_NAME" || true
    fi
}
