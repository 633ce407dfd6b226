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

name=azure-sdk-js
# shellcheck source=../serve.sh
. "$here/../serve.sh"

echo "azure-sdk-js: npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

echo "azure-sdk-js: building avow"
(cd "$root" && go build -o "$work/avow" ./cmd/avow)

# An owner admin token of our own, so that the suite knows it.
node -e 'process.stdout.write("avow_ci_" + require("crypto").randomBytes(24).toString("hex"))' >"$work/admin-token"

compat_start "$work/avow"

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
