#!/usr/bin/env bash
# The whole test suite: formatting, lints and every test of the workspace.
# This is the README's test command; .ci/run calls it unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build outputs are cached across runs (CI runs on a fresh clone each time).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tensorlogic/target}"

# NVRTC from PyPI lets the CUDA kernels compile without a GPU; the kernel test then
# requires it, so a compile error in any kernel fails CI.
venv="$HOME/.cache/tensorlogic/venv"
nvrtc_lib="$venv/lib/python3.11/site-packages/nvidia/cu13/lib"
if [ ! -e "$nvrtc_lib/libnvrtc.so.13" ]; then
    echo "== installing NVRTC 13.0 (PyPI wheel) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "nvidia-cuda-nvrtc==13.0.*"
fi
nvrtc_lib=$(dirname "$(find "$venv" -name 'libnvrtc.so.13' | head -n 1)")
export LD_LIBRARY_PATH="$nvrtc_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TL_REQUIRE_NVRTC=1

# The LLM tests read the real default model; fetching is skipped when it is present.
echo "== default model"
bash scripts/fetch-model.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
