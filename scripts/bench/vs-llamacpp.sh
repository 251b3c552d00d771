#!/usr/bin/env bash
# TensorLogic against llama.cpp on this machine: the default model, the same threads (2
# unless THREADS is set), a 512-token prompt then 128 greedy tokens. Prints each engine's
# prefill and decode tokens/s (medians of interleaved runs) and the ratios.
#
# llama.cpp runs through llama-cpp-python, built into a virtual environment
# (${LLAMACPP_VENV:-$TL_HOME/llamacpp-venv}) the first time, with the CMake flags of
# REFERENCE.md: a native build crashes on CPUs that report AMX. The build takes about 10
# minutes on 2 cores. Extra arguments go to scripts/bench/vs_llamacpp.py (--rounds N, ...).
# llama.cpp's OpenMP threads spin while they wait; on a machine shared with other busy
# processes that makes it several times slower, so there run it as
# OMP_WAIT_POLICY=PASSIVE bash scripts/bench/vs-llamacpp.sh (the script prints the policy).
# Usage (from anywhere): bash scripts/bench/vs-llamacpp.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
tl_home="${TL_HOME:-$HOME/.cache/tensorlogic}"
venv="${LLAMACPP_VENV:-$tl_home/llamacpp-venv}"
threads="${THREADS:-2}"

if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    echo "building llama-cpp-python 0.3.36 into $venv (about 10 minutes on 2 cores)" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" \
        "$venv/bin/pip" install --quiet "llama-cpp-python==0.3.36"
fi

model="$(bash scripts/fetch-model.sh | tail -n 1)"
cargo build --quiet --release -p tl-cli
"$venv/bin/python" scripts/bench/vs_llamacpp.py --threads "$threads" --tl target/release/tl \
    --model "$model" "$@"
