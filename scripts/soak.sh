#!/usr/bin/env bash
# Soak test: one `avow serve --dev` under a steady attestation rate
# (10 % invalid quotes, which must be refused) for DURATION, with the
# server's resident memory sampled every SAMPLE seconds. Fails if any
# request got an unexpected answer. Results: the avow bench report and the
# RSS samples (docs/reliability.md records a run).
#
#   scripts/soak.sh                    # 10 minutes at 100 attestations/s
#   DURATION=30s RATE=50 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10m}
RATE=${RATE:-100}
SAMPLE=${SAMPLE:-30}
work=$(mktemp -d)
pid=
sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

avow=${AVOW_BIN:-}   # a prebuilt avow, or build one
if [ -z "$avow" ]; then
	go build -o "$work/avow" ./cmd/avow
	avow="$work/avow"
fi
printf 'avow_soak-%s-0123456789abcdef' "$RANDOM" >"$work/token"
"$avow" serve --dev --listen 127.0.0.1:0 --data "$work/data" --sim-dir "$work/sim" \
	--admin-token-file "$work/token" >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do
	grep -q '^avow listening on ' "$work/serve.out" 2>/dev/null && break
	sleep 0.1
done
url=$(sed -n 's/^avow listening on //p' "$work/serve.out")
[ -n "$url" ] || { cat "$work/serve.log"; exit 1; }
export AVOW_SERVER="$url" AVOW_TOKEN="$(cat "$work/token")" AVOW_CA_CERT="$work/data/tls-cert.pem"
"$avow" provider create soak >/dev/null

rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
(
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		echo "rss_mb t=$(($(date +%s) - start))s $(rss)"
		sleep "$SAMPLE"
	done
) &
sampler=$!
echo "# soak $(date -u +%FT%TZ): $RATE/s for $DURATION, 10% invalid, $(nproc) cores"
status=0
"$avow" bench --url "$url/providers/soak" --sim-dir "$work/sim" --rate "$RATE" --duration "$DURATION" \
	--concurrency 16 --invalid-share 0.1 --quiet --timeout 0 || status=$?
echo "rss_mb end $(rss)"
"$avow" audit list --kind attestation --limit 1 -o json | grep -c '"attest.SgxEnclave"' >/dev/null && echo "audit: attestation records present"
exit $status
