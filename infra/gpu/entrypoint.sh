#!/bin/sh
# Starts the GPU pool server (scripts/serve-gpu.ts) --model $MODEL_LOCATION --providers cuda,cpu [...].
# Settings come from the environment; extra flags (e.g. --max-batch 32) are passed as container args.
set -eu
: "${MODEL_LOCATION:?set MODEL_LOCATION to a package directory or s3://bucket/prefix}"
: "${GPU_POOL_SECRET:?set GPU_POOL_SECRET (the bearer token the Worker sends)}"
set -- --model "$MODEL_LOCATION" --providers "${PROVIDERS:-cuda,cpu}" --host 0.0.0.0 --port "${PORT:-8000}" "$@"
if [ -n "${MODEL_ID:-}" ]; then set -- "$@" --model-id "$MODEL_ID"; fi
cd /app
# Run node directly (not npm) so SIGTERM reaches the server and it drains in-flight requests before exit.
exec node --import tsx scripts/serve-gpu.ts "$@"
