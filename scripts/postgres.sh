#!/usr/bin/env bash
# Shared by scripts/test and bench/run: make sure PostgreSQL answers on 127.0.0.1:5432 with trust
# auth for local TCP connections and pg_dump/pgbench exist, installing or starting it if needed.
# Idempotent. Source it, then call ensure_postgres.

say() { printf '[%s] %s\n' "${SAY_AS:-postgres}" "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_postgres() {
  say "installing PostgreSQL (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client postgresql-contrib >/dev/null
  # A fresh Debian cluster asks for passwords over TCP; tests connect as `postgres` without one.
  local hba
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  done
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  command -v pg_ctlcluster >/dev/null || install_postgres
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return
    sleep 0.5
  done
  say "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1
}

ensure_postgres() {
  command -v pg_dump >/dev/null || install_postgres
  start_postgres
}
