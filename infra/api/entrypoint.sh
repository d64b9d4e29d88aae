#!/bin/sh
# Starts the API on Node (scripts/serve-api.ts) on 0.0.0.0:$PORT with tenants in $UNMASK_DATA_DIR.
# Settings come from the environment (ADMIN_TOKEN, POOL_CONFIG and pool secrets, PREFIX_CACHE_MB, LOG_REQUESTS,
# AWS_* / S3_ENDPOINT); extra flags (e.g. --threads 4) are passed as container args.
set -eu
set -- --data "${UNMASK_DATA_DIR:-/var/lib/unmask}" --host 0.0.0.0 --port "${PORT:-8787}" "$@"
if [ -n "${MODEL_LOCATION:-}" ]; then set -- --model "$MODEL_LOCATION" "$@"; fi
if [ -n "${MODEL_ID:-}" ]; then set -- "$@" --model-id "$MODEL_ID"; fi
cd /app
# Run node directly (not npm) so SIGTERM reaches the server.
exec node --import tsx scripts/serve-api.ts "$@"
