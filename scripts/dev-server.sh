# Sourced by the load scripts (bench-http.sh, soak.sh): builds avow unless
# AVOW_BIN names one, starts `avow serve --dev` on a free loopback port in
# a temporary folder and exports AVOW_SERVER, AVOW_TOKEN and AVOW_CA_CERT
# for the CLI. Sets: avow (the binary), work (the folder), pid (the
# server), url. The server, the pids in $also_kill and the folder go away
# when the script exits.
#
#   start_dev_server [serve flags...]
work=$(mktemp -d)
pid=
also_kill=
cleanup() {
	for p in $also_kill; do kill "$p" 2>/dev/null || true; done
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

avow=${AVOW_BIN:-}   # a prebuilt avow, or build one
if [ -z "$avow" ]; then
	go build -o "$work/avow" ./cmd/avow
	avow="$work/avow"
fi

start_dev_server() {
	printf 'avow_load-%s-%s' "$RANDOM" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$work/token"
	"$avow" serve --dev --listen 127.0.0.1:0 --data "$work/data" --sim-dir "$work/sim" \
		--admin-token-file "$work/token" "$@" >"$work/serve.out" 2>"$work/serve.log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^avow listening on ' "$work/serve.out" 2>/dev/null && break
		sleep 0.1
	done
	url=$(sed -n 's/^avow listening on //p' "$work/serve.out")
	[ -n "$url" ] || { cat "$work/serve.log"; exit 1; }
	export AVOW_SERVER="$url" AVOW_TOKEN="$(cat "$work/token")" AVOW_CA_CERT="$work/data/tls-cert.pem"
}
