# compat/serve.sh, sourced by the SDK suites' run.sh: a temporary folder
# ($work, removed on exit), a `avow serve --dev` on a loopback port the
# kernel chooses, with an owner admin token of our own and the shared
# provider the suites check, stopped on exit whatever happens. Messages
# start with $name. Sets $pid and $url (compat_start).

work=$(mktemp -d "${TMPDIR:-/tmp}/avow-$name.XXXXXX")
pid=""
compat_cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap compat_cleanup EXIT
trap 'exit 130' INT TERM

server_log() {
  echo "--- avow serve output (last 40 lines)" >&2
  tail -n 40 "$work/server.out" "$work/server.log" >&2 || true
}

# compat_start AVOW_BINARY: starts the server with the token in
# $work/admin-token (written by the caller) and waits for its URL.
compat_start() {
  "$1" serve --dev --listen 127.0.0.1:0 --data "$work/data" --sim-dir "$work/sim" \
    --admin-token-file "$work/admin-token" --shared-provider "sharedcus=Central US" >"$work/server.out" 2>"$work/server.log" &
  pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^avow listening on //p' "$work/server.out" | head -n 1)
    [ -n "$url" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: avow serve exited before listening" >&2
      server_log
      exit 1
    fi
    sleep 0.1
  done
  echo "$name: avow serve did not start within 30 s" >&2
  server_log
  exit 1
}
