#!/usr/bin/env bash
# HTTPS attestation throughput of avow on this machine, measured the way
# BENCHMARKS.md reports it: one `avow serve --dev` process, two providers
# (RS256 and ES256 tokens), `avow bench` with 32 connections and the
# crypto floor measured in the same run, then an independent load tool
# (wrk, with a Lua script posting the same body) on the same server and
# provider. Client and server share the machine's cores.
#
#   scripts/bench-http.sh                     # 20 s per run
#   DURATION=60s CONCURRENCY=32 scripts/bench-http.sh
#   NO_WRK=1 scripts/bench-http.sh            # avow bench only
#   SERVE_FLAGS="--attest-workers -1" scripts/bench-http.sh
#   PROVIDERS=ecdsa scripts/bench-http.sh     # rsa (RS256), ecdsa (ES256) or both
#
# wrk is installed with apt-get when missing (Debian's package "wrk").
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-32}
. scripts/dev-server.sh
# shellcheck disable=SC2086 # SERVE_FLAGS holds several flags
start_dev_server ${SERVE_FLAGS:-}
"$avow" provider create rsa --token-algorithm RS256 >/dev/null
"$avow" provider create ecdsa --token-algorithm ES256 >/dev/null

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(go version | cut -d' ' -f3), duration $DURATION, $CONCURRENCY connections, load average $(cut -d' ' -f1-3 /proc/loadavg)"
report() {
	python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r.get("floor") or {}
l = r["latencyMs"]
print(f'avow bench: alg={r["tokenAlg"]} throughput={r["requestsPerSecond"]:.0f}/s errors={r["errors"]} '
      f'p50={l["p50"]}ms p90={l["p90"]}ms p99={l["p99"]}ms max={l["max"]}ms '
      f'client_cores={r["clientCores"]:.2f} server_cores={r.get("serverCores", 0):.2f} '
      f'server_rss_mb={r.get("serverRssStartMB", 0):.0f}->{r.get("serverRssEndMB", 0):.0f} '
      f'floor={f.get("perSecond", 0):.0f}/s ({f.get("microsPerAttestation", 0)} us) '
      f'share_of_floor={f.get("throughputShareOfFloor", 0)*100:.0f}% cpu_share_of_floor={f.get("cpuShareOfFloor", 0)*100:.0f}%')
PY
}
if [ -z "${NO_WRK:-}" ]; then
	if ! command -v wrk >/dev/null; then
		apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
	fi
	"$avow" bench --url "$url/providers/rsa" --sim-dir "$work/sim" --write-body "$work/body.json"
	cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
fi
# avow bench and wrk alternate, twice each per provider, so that both see
# the same machine.
for p in ${PROVIDERS:-rsa ecdsa}; do
	echo "## provider $p"
	for round in 1 2; do
		"$avow" bench --url "$url/providers/$p" --sim-dir "$work/sim" --concurrency "$CONCURRENCY" \
			--duration "$DURATION" --floor --quiet --timeout 0 -o json >"$work/bench.json"
		report "$work/bench.json"
		python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requestsPerSecond"])' "$work/bench.json" >>"$work/rate.$p.bench"
		if [ -z "${NO_WRK:-}" ]; then
			wrk -t2 -c"$CONCURRENCY" -d"$DURATION" --latency -s "$work/post.lua" \
				"$url/providers/$p/attest/SgxEnclave?api-version=2022-08-01" >"$work/wrk.txt"
			echo "wrk:        $(grep -E 'Requests/sec' "$work/wrk.txt" | tr -s ' ') p50=$(awk '$1=="50%"{print $2}' "$work/wrk.txt") p90=$(awk '$1=="90%"{print $2}' "$work/wrk.txt") p99=$(awk '$1=="99%"{print $2}' "$work/wrk.txt") $(grep -E 'Non-2xx' "$work/wrk.txt" | tr -s ' ')"
			awk '$1=="Requests/sec:"{print $2}' "$work/wrk.txt" >>"$work/rate.$p.wrk"
		fi
	done
done
# The comparisons the targets are about, from the means of the runs above.
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
def mean(p, tool):
    f = os.path.join(work, f"rate.{p}.{tool}")
    if not os.path.exists(f):
        return None
    v = [float(x) for x in open(f).read().split()]
    return sum(v) / len(v) if v else None
for p in ("rsa", "ecdsa"):
    b, w = mean(p, "bench"), mean(p, "wrk")
    if b and w:
        print(f"# {p}: avow bench {b:.0f}/s, wrk {w:.0f}/s: avow bench {100 * (b / w - 1):+.1f} % against wrk")
for tool in ("bench", "wrk"):
    r, e = mean("rsa", tool), mean("ecdsa", tool)
    if r and e:
        print(f"# ES256 / RS256 ({'avow bench' if tool == 'bench' else 'wrk'}): {e / r:.2f}")
PY
echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
