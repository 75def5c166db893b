#!/bin/sh
# Index the corpus folder (idempotent: unchanged files are skipped in well under a second), then serve.
# Set INGEST_ON_START=0 on all but one replica when several share the same Chroma server and database.
set -e
rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
if [ "${INGEST_ON_START:-1}" = "1" ]; then
  python -m ingest -q || echo "ingest reported failures (see above); serving what is indexed" >&2
fi
exec "$@"
