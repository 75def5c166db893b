#!/usr/bin/env bash
# Start the local services the tests need when they are not running yet (PostgreSQL, Redis).
# The tests start their own Chroma server (`chroma run`) on a free port.
set -u
pg_up() { (echo > /dev/tcp/127.0.0.1/5432) >/dev/null 2>&1; }
redis_up() { (echo > /dev/tcp/127.0.0.1/6379) >/dev/null 2>&1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
for _ in $(seq 1 30); do pg_up && break; sleep 1; done
pg_up || echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432; its tests will fail" >&2
exit 0
