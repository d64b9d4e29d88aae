#!/usr/bin/env bash
# GPU check, runnable on a machine without network access. Two steps:
#
#   scripts/gpu-check.sh prepare            (with network, once; e.g. on the machine that ships the checkout)
#       Fetches the Vulkan loader (Debian bookworm libvulkan1 1.3.239, 116 KB, sha256-pinned) into .gpu-deps/
#       (git-ignored; carry it with the working tree) and builds the small packages the check uses.
#   scripts/gpu-check.sh run [--provider webgpu|cuda|cpu] [--quick] [--out DIR] [--rehearse-layers N]
#       1. points onnxruntime-node at the carried loader and the NVIDIA Vulkan driver (its ICD file, or one
#          written for libGLX_nvidia.so.0 when the driver is mounted without it);
#       2. reports which graph nodes run on the provider and which fall back to the CPU, for an fp16 (MoE) and
#          an int4 (QMoE) package (npm run ep-report);
#       3. measures bench:gpu (1, 4, 16 streams through the GPU server);
#       4. runs one rehearsal (LLaDA2.0-mini shape, --layers 4, fp16) served on the provider.
#       Results go to DIR (default models/gpu-check): one JSON file per step and summary.txt.
#       --provider cpu runs the same steps on the CPU (the path a machine without a GPU can check);
#       --quick uses the CI-sized rehearsal preset.
#   scripts/gpu-check.sh vulkan-env         prints the Vulkan settings `run` would use (as export lines).
# GPU_DEPS_DIR overrides .gpu-deps.
#
# onnxruntime-node 1.30 for Linux x64 contains the WebGPU provider (Dawn on Vulkan); it needs libvulkan.so.1 and
# a Vulkan driver, nothing else. CUDA needs libonnxruntime_providers_cuda.so, which npm's install script downloads
# from NuGet (ONNXRUNTIME_NODE_INSTALL=cuda12): not available offline, so webgpu is the default.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS="${GPU_DEPS_DIR:-.gpu-deps}"
LOADER_DEB=libvulkan1_1.3.239.0-1_amd64.deb
LOADER_URL="https://deb.debian.org/debian/pool/main/v/vulkan-loader/$LOADER_DEB"
LOADER_SHA256=622f28b807ba55a1f5ad1622ff83aa2c5b11fedbec074850e04c10a8f28b43d3
CI_CKPT=models/gpu-check-ckpt

die() { echo "gpu-check: $*" >&2; exit 2; }
log() { echo "gpu-check: $*" >&2; }

prepare() {
  [ "$(uname -m)" = x86_64 ] || log "warning: the carried loader is for x86_64; this is $(uname -m)"
  mkdir -p "$DEPS/deb" "$DEPS/lib"
  local deb="$DEPS/deb/$LOADER_DEB"
  if [ ! -f "$deb" ]; then
    if command -v apt-get > /dev/null && (cd "$DEPS/deb" && apt-get download "libvulkan1=1.3.239.0-1" > /dev/null 2>&1); then :
    elif command -v curl > /dev/null; then curl -fsSL -o "$deb" "$LOADER_URL"
    else die "cannot download $LOADER_DEB: no apt-get or curl"; fi
  fi
  echo "$LOADER_SHA256  $deb" | sha256sum -c --quiet - || { rm -f "$deb"; die "$LOADER_DEB does not match its pinned sha256"; }
  local tmp; tmp="$(mktemp -d)"
  if command -v dpkg-deb > /dev/null; then dpkg-deb -x "$deb" "$tmp"
  else (cd "$tmp" && ar x "$OLDPWD/$deb" data.tar.xz && tar -xJf data.tar.xz); fi
  cp -P "$tmp"/usr/lib/x86_64-linux-gnu/libvulkan.so.1* "$DEPS/lib/"
  rm -rf "$tmp"
  log "Vulkan loader in $DEPS/lib ($(du -sh "$DEPS" | cut -f1))"
  [ -d node_modules/tsx ] || die "node_modules is missing: run 'ONNXRUNTIME_NODE_INSTALL=skip npm ci' first"
  # The check's packages need no network to build, but building them here saves time on the GPU machine.
  build_packages
}

build_packages() {
  if [ ! -f "$CI_CKPT/config.json" ]; then
    node --import tsx scripts/rehearse.ts --stage checkpoint \
      --stage-options "{\"dir\":\"$CI_CKPT\",\"preset\":\"llada2-ci\",\"layers\":4,\"seed\":0}" > /dev/null
  fi
  for dtype in fp16 int4; do
    [ -f "models/gpu-check-$dtype/manifest.json" ] ||
      node --import tsx scripts/export-onnx.ts "$CI_CKPT" "models/gpu-check-$dtype" --dtype "$dtype" --force 2> /dev/null
  done
}

# Vulkan for onnxruntime's WebGPU provider: the system loader if there is one, else the carried one; the NVIDIA
# ICD from the usual places, else one written for the driver library the container runtime mounted.
setup_vulkan() {
  if ! ldconfig -p 2> /dev/null | grep -q 'libvulkan\.so\.1 '; then
    [ -f "$DEPS/lib/libvulkan.so.1" ] || die "no libvulkan.so.1 on this machine and none in $DEPS/lib: run 'scripts/gpu-check.sh prepare' where there is network, and carry $DEPS"
    export LD_LIBRARY_PATH="$(cd "$DEPS/lib" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "Vulkan loader: $DEPS/lib/libvulkan.so.1 (carried)"
  else
    log "Vulkan loader: system"
  fi
  local icd
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; log "Vulkan driver: $icd"; return; fi
  done
  local glx
  glx="$(ldconfig -p 2> /dev/null | awk '/libGLX_nvidia\.so\.0 /{print $NF; exit}')"
  [ -n "$glx" ] || glx="$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2> /dev/null | head -1 || true)"
  if [ -n "$glx" ]; then
    mkdir -p "$DEPS/icd"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" > "$DEPS/icd/nvidia_icd.json"
    export VK_ICD_FILENAMES="$(cd "$DEPS/icd" && pwd)/nvidia_icd.json"
    log "Vulkan driver: $glx (ICD file written to $DEPS/icd)"
  else
    log "warning: no NVIDIA Vulkan driver found (no nvidia_icd.json, no libGLX_nvidia.so.0): the container needs NVIDIA_DRIVER_CAPABILITIES to include graphics"
  fi
}

run() {
  local provider=webgpu quick=0 out=models/gpu-check layers=4
  while [ $# -gt 0 ]; do
    case "$1" in
      --provider) provider="${2:?}"; shift 2 ;;
      --quick) quick=1; shift ;;
      --out) out="${2:?}"; shift 2 ;;
      --rehearse-layers) layers="${2:?}"; shift 2 ;;
      *) die "unknown option '$1' (usage: scripts/gpu-check.sh run [--provider webgpu|cuda|cpu] [--quick] [--out DIR] [--rehearse-layers N])" ;;
    esac
  done
  case "$provider" in webgpu | cuda | cpu) ;; *) die "the provider must be webgpu, cuda or cpu, got '$provider'" ;; esac
  [[ "$layers" =~ ^[1-9][0-9]*$ ]] || die "--rehearse-layers must be a positive integer, got '$layers'"
  [ -d node_modules/tsx ] && [ -d node_modules/onnxruntime-node ] || die "node_modules is incomplete: run 'ONNXRUNTIME_NODE_INSTALL=skip npm ci' first"
  mkdir -p "$out"
  [ "$provider" = webgpu ] && setup_vulkan
  if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"; fi
  build_packages
  local providers="$provider"; [ "$provider" = cpu ] || providers="$provider,cpu"
  local status=0
  for dtype in fp16 int4; do
    log "placement of the $dtype package on $provider"
    node --import tsx scripts/ep-report.ts --model "models/gpu-check-$dtype" --provider "$provider" --json > "$out/placement-$dtype.json" || status=1
  done
  log "bench:gpu on $provider"
  local strict=--strict-provider; [ "$provider" = cpu ] && strict=
  timeout 290 node --import tsx benchmarks/gpu.ts --providers "$provider" $strict --json-file "$out/bench-gpu.json" > /dev/null || status=1
  log "rehearsal on $providers"
  local preset=(--preset llada2-mini --layers "$layers"); [ "$quick" = 1 ] && preset=(--preset llada2-ci)
  timeout 1800 node --import tsx scripts/rehearse.ts "${preset[@]}" --dtype fp16 --providers "$providers" --json > "$out/rehearse.json" || status=1
  node --import tsx -e "
    const fs = require('node:fs'); const dir = process.argv[1]; const read = (f) => { try { return JSON.parse(fs.readFileSync(dir + '/' + f, 'utf8')); } catch { return null; } };
    const lines = [];
    for (const d of ['fp16', 'int4']) { const p = read('placement-' + d + '.json'); lines.push(d + ' placement: ' + (p ? (p.created ? p.placements.map((x) => x.provider + ' ' + x.nodes).join(', ') + (p.cpuFallbackOps.length ? '; CPU fallback: ' + p.cpuFallbackOps.join(', ') : '') : 'no session: ' + p.error) : 'missing')); }
    const b = read('bench-gpu.json'); lines.push('bench:gpu: ' + (b ? JSON.stringify(b).slice(0, 400) : 'missing'));
    const r = read('rehearse.json'); lines.push('rehearse: ' + (r ? r.layers + ' layers ' + r.dtype + ' on ' + r.provider + ', ' + r.ms_per_block.toFixed(0) + ' ms/block, ' + r.tokens_per_s.toFixed(2) + ' tokens/s, cached = reference: ' + r.cached_equals_reference : 'missing'));
    fs.writeFileSync(dir + '/summary.txt', lines.join('\n') + '\n'); console.log(lines.join('\n'));
  " "$out"
  return $status
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  prepare) prepare "$@" ;;
  run) run "$@" ;;
  vulkan-env)
    setup_vulkan
    echo "export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
    ;;
  *) die "usage: scripts/gpu-check.sh prepare | run [--provider webgpu|cuda|cpu] [--quick] [--out DIR] [--rehearse-layers N] | vulkan-env" ;;
esac
