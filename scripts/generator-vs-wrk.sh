#!/usr/bin/env bash
# ibench load at its maximum rate (open model, scenarios/max-rate.toml: 50 VUs) against
# `wrk -t1 -c50` on the same `ibench serve` baseline listener, in alternated pairs: prints
# each pair's two rates, each generator's CPU time per request, and the median ratio.
#
#   scripts/generator-vs-wrk.sh [PAIRS] [SECONDS]      # defaults: 4 pairs of 8 s
#
# Needs wrk (Debian: apt-get install wrk) and a release build (cargo build --release).
# Loopback only; the server it starts is stopped at the end. Environment:
#   IBENCH=path/to/ibench   the binary (default target/release/ibench)
#   PORT_OFFSET=N           the server's --port-offset (default 3900: baseline on 11981)
#   SERVE_WORKERS=N         the server's --workers (default 1, as ibench load --threads 1, wrk -t1)
#   RT=1                    run the server and both generators under `chrt -f 10` (root): on a
#                           machine busy with other work, its scheduler otherwise decides the pairs
set -euo pipefail
pairs=${1:-4}
seconds=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
ibench=${IBENCH:-$root/target/release/ibench}
offset=${PORT_OFFSET:-3900}
workers=${SERVE_WORKERS:-1}
sched=()
[ "${RT:-0}" = 1 ] && sched=(chrt -f 10)
port=$((8081 + offset))
url=http://127.0.0.1:$port
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$ibench" ] || { echo "no $ibench: cargo build --release --bin ibench" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
cat >"$work/hello.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"wrk"}'
wrk.headers["Content-Type"] = "application/json"
LUA
"${sched[@]}" "$ibench" serve --discard-logs --port-offset "$offset" --workers "$workers" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "$url/health" && break
    sleep 0.1
done
scale=$(awk -v s="$seconds" 'BEGIN { print s / 10 }')  # max-rate.toml lasts 10 s
# The CPU seconds (user + sys) a command took; its output goes to the file $1.
cpu_of() {
    local out=$1; shift
    "${sched[@]}" /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$out" 2>&1
    awk '{ print $1 + $2 }' "$work/time"
}
# The server's CPU seconds so far (utime + stime, in clock ticks, from /proc).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$serve_pid/stat"; }
run_wrk() {
    local cpu rps
    cpu=$(cpu_of "$work/wrk.out" wrk -t1 -c50 -d"${seconds}s" -s "$work/hello.lua" "$url/greeter.v1.GreeterService/SayHello")
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
    echo "$rps $cpu"
}
run_ibench() {
    local cpu rps
    cpu=$(cpu_of "$work/ibench.out" "$ibench" load "$root/scenarios/max-rate.toml" --duration-scale "$scale" \
        --target "baseline=$url" --no-progress --out "json=$work/run.json" --force)
    rps=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["metrics"]["http_reqs"]["rate"])' "$work/run.json")
    echo "$rps $cpu"
}
echo "pairs of ${seconds} s on $url (server --workers $workers${sched:+, ${sched[*]}}), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU µs per request: the generator's own, and the server's while that generator ran.
printf '%-5s %10s %8s %8s %12s %8s %8s %7s\n' pair "wrk req/s" "wrk µs" "server" "ibench req/s" "ib µs" "server" ratio
ratios=()
for pair in $(seq "$pairs"); do
    # ABBA: odd pairs run wrk first, even pairs ibench first.
    # Each run prints "rate generator_cpu server_cpu" (CPU in seconds).
    wrk_run() { local before; before=$(server_cpu); echo "$(run_wrk) $(awk -v a="$(server_cpu)" -v b="$before" 'BEGIN { print a - b }')"; }
    ibench_run() { local before; before=$(server_cpu); echo "$(run_ibench) $(awk -v a="$(server_cpu)" -v b="$before" 'BEGIN { print a - b }')"; }
    if [ $((pair % 2)) -eq 1 ]; then w=$(wrk_run); i=$(ibench_run); else i=$(ibench_run); w=$(wrk_run); fi
    read -r wrps wcpu wserver <<<"$w"
    read -r irps icpu iserver <<<"$i"
    ratio=$(awk -v a="$irps" -v b="$wrps" 'BEGIN { printf "%.2f", a / b }')
    ratios+=("$ratio")
    awk -v p="$pair" -v wr="$wrps" -v wc="$wcpu" -v ws="$wserver" -v ir="$irps" -v ic="$icpu" -v is="$iserver" \
        -v s="$seconds" -v r="$ratio" 'BEGIN {
            us = 1e6 / s
            printf "%-5s %10.0f %8.1f %8.1f %12.0f %8.1f %8.1f %7s\n", p, wr, wc / wr * us, ws / wr * us, ir, ic / ir * us, is / ir * us, r
        }'
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "median ibench/wrk ratio: $median (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
