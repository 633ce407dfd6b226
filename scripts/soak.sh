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
. scripts/dev-server.sh
start_dev_server
"$avow" provider create soak >/dev/null

rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
(
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		echo "rss_mb t=$(($(date +%s) - start))s $(rss)"
		sleep "$SAMPLE"
	done
) &
also_kill=$!
echo "# soak $(date -u +%FT%TZ): $RATE/s for $DURATION, 10% invalid, $(nproc) cores"
status=0
"$avow" bench --url "$url/providers/soak" --sim-dir "$work/sim" --rate "$RATE" --duration "$DURATION" \
	--concurrency 16 --invalid-share 0.1 --quiet --timeout 0 || status=$?
echo "rss_mb end $(rss)"
"$avow" audit list --kind attestation --limit 1 -o json | grep -c '"attest.SgxEnclave"' >/dev/null && echo "audit: attestation records present"
exit $status
