#!/usr/bin/env bash
# GPU check of the GPU container server: runs `bench:gpu` (1, 4 and 16 concurrent streams through the internal
# API) on the CUDA or WebGPU execution provider and fails if the server fell back to CPU. Takes well under 5 min.
#
# Installs nothing and needs no network at run time. It expects:
#   - `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` already run (the repo's .npmrc skips onnxruntime-node's CUDA download
#     by default; the variable overrides it), so onnxruntime-node's bin/napi-v6/linux/x64/ holds
#     libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so;
#   - the CUDA 12 runtime, cuBLAS and cuDNN 9 libraries on the loader path (e.g. an nvidia/cuda:12.x-cudnn-runtime
#     base image) and an NVIDIA driver;
#   - for webgpu instead: a Vulkan driver (onnxruntime-node bundles the WebGPU provider).
# The bench model is built locally under models/bench-gpu on first use (a few seconds, no download).
#
# Usage: scripts/gpu-check.sh [cuda|webgpu] [more bench-gpu flags, e.g. --max-tokens 256]
# Writes the result object (with speedup_at_16) to $GPU_CHECK_OUT (default models/gpu-check-result.json).
set -euo pipefail
cd "$(dirname "$0")/.."

provider="${1:-cuda}"
[ $# -gt 0 ] && shift
case "$provider" in
  cuda | webgpu) ;;
  *) echo "gpu-check: the provider must be cuda or webgpu, got '$provider'" >&2; exit 2 ;;
esac
[ -d node_modules/tsx ] && [ -d node_modules/onnxruntime-node ] || { echo "gpu-check: node_modules is incomplete: run 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci' first" >&2; exit 2; }

if [ "$provider" = cuda ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  libdir="node_modules/onnxruntime-node/bin/napi-v6/linux/$arch"
  for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
    [ -f "$libdir/$lib" ] || { echo "gpu-check: $libdir/$lib is missing: reinstall with 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci'" >&2; exit 2; }
  done
  if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
fi

out="${GPU_CHECK_OUT:-models/gpu-check-result.json}"
timeout 290 node --import tsx benchmarks/gpu.ts --providers "$provider" --strict-provider --json-file "$out" "$@"
echo "gpu-check: wrote $out"
