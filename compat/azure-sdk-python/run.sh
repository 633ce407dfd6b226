#!/usr/bin/env bash
# Runs the Azure SDK for Python compatibility suite (suite.py) against a
# fresh `avow serve --dev` over HTTPS on loopback: installs Debian's
# python3-azure when the SDK is absent (as root, with apt-get), builds avow
# (or uses AVOW_BIN when it names a binary), starts it with a temporary data
# folder and admin token, waits for /healthz, runs the suite, and stops the
# server whatever happens. Exits non-zero when anything fails. Used by
# .ci/run; run it by hand the same way: compat/azure-sdk-python/run.sh
#
# The SDK is Debian's (azure-security-attestation 1.0.1 and
# azure-mgmt-attestation 2.0.0b1 in python3-azure 20230112 on bookworm),
# installed for Debian's own interpreter: the suite runs with
# /usr/bin/python3, whatever `python3` is first on PATH (pyenv, venv).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
start=$(date +%s)
py=/usr/bin/python3

have_sdk() {
  [ -x "$py" ] && "$py" -c 'import azure.security.attestation, azure.mgmt.attestation, azure.core.credentials' 2>/dev/null
}

if ! have_sdk; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "azure-sdk-python: installing python3-azure (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp "${TMPDIR:-/tmp}/avow-sdk-py-apt.XXXXXX")
    if ! { apt-get -o DPkg::Lock::Timeout=300 update -qq &&
           apt-get -o DPkg::Lock::Timeout=300 install -y -qq python3-azure; } >"$apt_log" 2>&1; then
      cat "$apt_log" >&2
      rm -f "$apt_log"
      echo "azure-sdk-python: apt-get install python3-azure failed" >&2
      exit 1
    fi
    rm -f "$apt_log"
  else
    echo "azure-sdk-python: Debian's python3-azure is not installed for $py and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
  have_sdk || { echo "azure-sdk-python: python3-azure installed, but $py cannot import azure.security.attestation" >&2; exit 1; }
fi
sdk_versions=$("$py" -c 'import azure.security.attestation as a, azure.mgmt.attestation as m, azure.core as c; print("azure-security-attestation", a.__version__ + ",", "azure-mgmt-attestation", m.__version__ + ",", "azure-core", c.__version__)')
echo "azure-sdk-python: $($py --version), $sdk_versions"

name=azure-sdk-python
# shellcheck source=../serve.sh
. "$here/../serve.sh"

if [ -n "${AVOW_BIN:-}" ]; then
  [ -x "$AVOW_BIN" ] || { echo "azure-sdk-python: AVOW_BIN=$AVOW_BIN is not an executable" >&2; exit 1; }
  avow=$AVOW_BIN
else
  command -v go >/dev/null || { echo "azure-sdk-python: go is not installed" >&2; exit 1; }
  echo "azure-sdk-python: building avow"
  (cd "$root" && go build -o "$work/avow" ./cmd/avow)
  avow=$work/avow
fi

# An owner admin token of our own, so that the suite knows it.
"$py" -c 'import secrets; print("avow_ci_" + secrets.token_hex(24), end="")' >"$work/admin-token"

compat_start "$avow"

ca="$work/data/tls-cert.pem"
if ! "$py" - "$url" "$ca" <<'PY'
import ssl, sys, time, urllib.request
url, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
deadline = time.time() + 30
while time.time() < deadline:
    try:
        with urllib.request.urlopen(url + "/healthz", context=ctx, timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
print("no 200 from /healthz", file=sys.stderr)
sys.exit(1)
PY
then
  echo "azure-sdk-python: $url/healthz did not answer" >&2
  server_log
  exit 1
fi

echo "azure-sdk-python: server at $url; running suite.py"
status=0
# The suite gives the CA to every client (connection_verify); no
# REQUESTS_CA_BUNDLE, so that a client the suite forgot fails loudly.
AVOW_URL="$url" AVOW_TOKEN="$(cat "$work/admin-token")" AVOW_BIN="$avow" AVOW_SIM_DIR="$work/sim" \
  AVOW_CA="$ca" "$py" "$here/suite.py" || status=$?
if [ "$status" -ne 0 ]; then
  server_log
  echo "azure-sdk-python: FAILED after $(( $(date +%s) - start )) s" >&2
  exit "$status"
fi
echo "azure-sdk-python: passed in $(( $(date +%s) - start )) s"
