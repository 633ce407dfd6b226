#!/usr/bin/env bash
# Runs the Azure SDK for JavaScript compatibility suite (suite.mjs) against
# a fresh `avow serve --dev` over HTTPS on loopback: installs the pinned
# SDKs (npm ci), builds avow, starts it with a temporary data folder and
# admin token, waits for /healthz, runs the suite, and stops the server
# whatever happens. Exits non-zero when anything fails. Used by .ci/run;
# run it by hand the same way: compat/azure-sdk-js/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
start=$(date +%s)

for tool in node npm go; do
  command -v "$tool" >/dev/null || { echo "azure-sdk-js: $tool is not installed" >&2; exit 1; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "azure-sdk-js: Node.js 20 or later is needed, this is $(node --version)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/avow-sdk-js.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_log() {
  echo "--- avow serve output (last 40 lines)" >&2
  tail -n 40 "$work/server.out" "$work/server.log" >&2 || true
}

echo "azure-sdk-js: npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

echo "azure-sdk-js: building avow"
(cd "$root" && go build -o "$work/avow" ./cmd/avow)

# An owner admin token of our own, so that the suite knows it.
node -e 'process.stdout.write("avow_ci_" + require("crypto").randomBytes(24).toString("hex"))' >"$work/admin-token"

"$work/avow" serve --dev --listen 127.0.0.1:0 --data "$work/data" --sim-dir "$work/sim" \
  --admin-token-file "$work/admin-token" --shared-provider "sharedcus=Central US" >"$work/server.out" 2>"$work/server.log" &
pid=$!

# The port is the kernel's choice: read the URL the server prints.
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^avow listening on //p' "$work/server.out" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "azure-sdk-js: avow serve exited before listening" >&2
    server_log
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "azure-sdk-js: avow serve did not start within 30 s" >&2
  server_log
  exit 1
fi

export NODE_EXTRA_CA_CERTS="$work/data/tls-cert.pem"
if ! node -e '
  const https = require("https");
  const deadline = Date.now() + 30000;
  const retry = () => {
    if (Date.now() > deadline) { console.error("no 200 from /healthz"); process.exit(1); }
    setTimeout(poll, 100);
  };
  const poll = () => https.get(process.argv[1] + "/healthz", (res) => {
    res.resume();
    res.statusCode === 200 ? process.exit(0) : retry();
  }).on("error", retry);
  poll();
' "$url"; then
  echo "azure-sdk-js: $url/healthz did not answer" >&2
  server_log
  exit 1
fi

echo "azure-sdk-js: server at $url; running suite.mjs"
status=0
AVOW_URL="$url" AVOW_TOKEN="$(cat "$work/admin-token")" AVOW_BIN="$work/avow" AVOW_SIM_DIR="$work/sim" \
  node "$here/suite.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  server_log
  echo "azure-sdk-js: FAILED after $(( $(date +%s) - start )) s" >&2
  exit "$status"
fi
echo "azure-sdk-js: passed in $(( $(date +%s) - start )) s"
