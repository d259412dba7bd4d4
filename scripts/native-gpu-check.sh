#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: TensorFlow with CUDA from pip, tfjs-node-gpu built against it by
# `fitstream native install --gpu`, then the bench's native suite (MLP, CNN, LSTM of the backend suite) on the GPU and,
# with the GPU hidden, on TensorFlow's CPU kernels, each beside fitstream's WASM backend. Prints steps/s as JSON rows.
# Usage: bash scripts/native-gpu-check.sh [--quick]     (from a clone; needs Node ≥ 20.19, python3, a C++ compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
quick="${1:-}"

nvidia-smi -L || { echo "native-gpu-check: nvidia-smi failed: no NVIDIA GPU or driver here" >&2; exit 1; }
python3 -m pip install --retries 0 --quiet --disable-pip-version-check "tensorflow[and-cuda]"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null
node apps/cli/bin/fitstream.js native install --gpu
node apps/cli/bin/fitstream.js doctor | sed -n '/^Backends/,/^--backend auto/p'

out="$(mktemp -d)"
npm run --silent bench -- --suite native --json $quick >"$out/gpu.json"
CUDA_VISIBLE_DEVICES=-1 npm run --silent bench -- --suite native --json $quick >"$out/cpu.json"
node -e '
  const fs = require("node:fs");
  const [gpu, cpu] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const pick = (rows, re) => rows.filter((r) => re.test(r.name));
  console.log(JSON.stringify({ gpu: pick(gpu, /steps_per_s|_vs_/), cpu: pick(cpu, /steps_per_s|_vs_/) }, null, 2));
' "$out/gpu.json" "$out/cpu.json"
