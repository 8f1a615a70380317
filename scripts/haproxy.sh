#!/usr/bin/env bash
# Starts a throwaway HAProxy load balancer on a loopback port in front of several gateway
# replicas, for the tests of several replicas (crates/gateway-cli/tests/it/replicas.rs), and
# prints the line
#     LISTENING http://127.0.0.1:<port>
# on standard output once it accepts connections (everything else goes to standard error).
# `./scripts/haproxy.sh stop` stops it again.
#
#     ./scripts/haproxy.sh [start] 127.0.0.1:8081 http://127.0.0.1:8082/mcp …
#     ./scripts/haproxy.sh stop
#
# Each argument is a backend, as HOST:PORT or as a URL (its scheme and path are dropped: agents
# use the same path on the load balancer, e.g. http://127.0.0.1:<port>/mcp).
#
# What the load balancer does (HTTP mode):
# - round robin: each request goes to the next backend that is up, also on a kept-alive client
#   connection (a 2026-07-28 agent's requests are spread over the replicas), over a connection
#   of its own to the backend (`option http-server-close`: a backend that died since its last
#   answer refuses the next connection, and the request goes elsewhere, where a kept-alive
#   backend connection would have failed the agent's request once);
# - a session-era agent's session stays on the backend that opened it: the Mcp-Session-Id of a
#   response is stored in a stick table and matched on the requests that carry it (a replica
#   knows only its own sessions); when that backend is down the request goes to another one,
#   which answers 404 and the agent opens a new session there;
# - health checks: GET /healthz every 500 ms (2 failures: down, 2 successes: up; 5 s to
#   answer; the gateway answers 503 while it drains on SIGTERM), and a request whose backend
#   refuses the connection is sent to another one (retries with redispatch); a request a
#   backend received and died on is not sent again (the agent decides: a call may not be safe
#   to repeat);
# - timeouts for long SSE streams: 1 h of silence on an open request or stream (the gateway's
#   idle sessions end sooner), 5 s to connect to a backend, 10 s for a request's headers and
#   for a kept-alive connection between requests.
#
# Installs Debian's `haproxy` package with apt-get when HAProxy is missing (as root, like CI);
# HAProxy itself runs as the calling user, root is not needed for a port above 1023.
#
# Environment: HAPROXY_PORT (default: a free port between 20000 and 32000, tried until one
# binds), HAPROXY_DIR (the instance's configuration and pid file; default
# /tmp/pagerduty-mcp-connect-haproxy-<uid>; give each concurrent instance its own). Starting
# again in the same HAPROXY_DIR stops the instance that was there first.
set -euo pipefail

dir="${HAPROXY_DIR:-/tmp/pagerduty-mcp-connect-haproxy-$(id -u)}"
log() { echo "haproxy.sh: $*" >&2; }
die() { echo "haproxy.sh: ERROR: $*" >&2; exit 1; }

stop() {
    if [ -f "$dir/haproxy.pid" ]; then
        local pid
        pid="$(cat "$dir/haproxy.pid")"
        # Only the HAProxy this script started (the pid file may be stale).
        if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "haproxy" ]; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$dir/haproxy.pid"
    fi
}

command="${1:-start}"
case "$command" in
    stop)
        stop
        exit 0
        ;;
    start) shift ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) ;; # a backend: `start` is the default
esac
[ "$#" -gt 0 ] || die "no backend given: ./scripts/haproxy.sh [start] HOST:PORT… (or stop)"

find_haproxy() {
    local candidate
    for candidate in "$(command -v haproxy 2>/dev/null || true)" /usr/sbin/haproxy /usr/local/sbin/haproxy; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

haproxy="$(find_haproxy || true)"
if [ -z "$haproxy" ]; then
    if [ "$(id -u)" != "0" ]; then
        die "HAProxy is not installed and scripts/haproxy.sh can install it only as root: run 'apt-get install haproxy' (Debian's package) first"
    fi
    # Tests start several load balancers at once: one installs, the others wait for it.
    exec 9>"/tmp/pagerduty-mcp-connect-haproxy-install.lock"
    flock 9
    haproxy="$(find_haproxy || true)"
    if [ -z "$haproxy" ]; then
        log "installing Debian's haproxy package"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
            && apt-get -o DPkg::Lock::Timeout=300 install -y -qq haproxy >&2; } \
            || die "scripts/haproxy.sh could not install Debian's haproxy package (apt-get install -y haproxy failed above)"
        haproxy="$(find_haproxy)" || die "scripts/haproxy.sh installed the haproxy package but finds no haproxy binary"
    fi
    flock -u 9
    exec 9>&-
fi

# The backends, as HOST:PORT.
servers=""
i=0
for backend in "$@"; do
    address="${backend#*://}"
    address="${address%%/*}"
    case "$address" in
        *:[0-9]*) ;;
        *) die "backend '$backend' is not HOST:PORT or a URL with a port" ;;
    esac
    i=$((i + 1))
    servers="$servers    server replica$i $address check
"
done

stop
mkdir -p "$dir"
chmod 700 "$dir"

write_config() {
    cat >"$dir/haproxy.cfg" <<EOF
# Written by scripts/haproxy.sh; rewritten at each start.
global
    stats socket $dir/admin.sock mode 600 level admin

defaults
    mode http
    option dontlognull
    timeout connect 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    # Long SSE streams (a session's GET stream, a long call's reply): 1 h of silence.
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout queue 30s
    retries 3
    # A request whose backend refuses the connection (a killed replica, until the health check
    # takes it out) goes to another one. Only connection failures: a call a replica received
    # and died on is not sent again (a tools/call may not be safe to repeat; the agent decides).
    option redispatch 1
    retry-on conn-failure

frontend agents
    bind 127.0.0.1:$1
    default_backend gateways

backend gateways
    balance roundrobin
    # A new connection to a replica for each request (the replica closes it after its answer;
    # agents keep theirs to HAProxy). A kept-alive one could have been cut by a replica that
    # died since: HAProxy then closes the agent's connection without an answer, as a kept-alive
    # server would, and the agent's next request fails once. A fresh connection to a dead
    # replica is refused instead, and the request goes to another one (redispatch).
    option http-server-close
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # Down after 2 failed checks (a killed replica: within a second), up after 2 good ones; a
    # slow answer on a loaded machine is not a failure.
    default-server inter 500ms fall 2 rise 2
    timeout check 5s
    # A session-era session lives in one replica: its requests go where it was opened.
    stick-table type string len 128 size 1m expire 1h
    stick match req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
$servers
EOF
}

start_on() {
    write_config "$1"
    "$haproxy" -c -q -f "$dir/haproxy.cfg" >&2 || die "the configuration in $dir/haproxy.cfg is refused (above)"
    "$haproxy" -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" 2>"$dir/start.err"
}

if [ -n "${HAPROXY_PORT:-}" ]; then
    start_on "$HAPROXY_PORT" || { cat "$dir/start.err" >&2; die "HAProxy did not start on 127.0.0.1:$HAPROXY_PORT"; }
    port="$HAPROXY_PORT"
else
    port=""
    for _ in $(seq 1 20); do
        candidate=$((20000 + RANDOM % 12000))
        if start_on "$candidate"; then
            port="$candidate"
            break
        fi
        grep -qi "bind" "$dir/start.err" || { cat "$dir/start.err" >&2; die "HAProxy did not start"; }
    done
    [ -n "$port" ] || { cat "$dir/start.err" >&2; die "HAProxy found no free port"; }
fi
log "HAProxy $("$haproxy" -v | head -1 | awk '{print $3}') on 127.0.0.1:$port (pid $(cat "$dir/haproxy.pid")) in front of $i backends; config $dir/haproxy.cfg"
echo "LISTENING http://127.0.0.1:$port"
