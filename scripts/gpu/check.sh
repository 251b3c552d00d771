#!/usr/bin/env bash
# The GPU checks of the CUDA backend, run on a machine with an NVIDIA GPU and the CUDA
# toolkit: the conformance suite on every device (`tl doctor`), then compute-sanitizer's
# memcheck over the whole suite and racecheck over the kernels that use shared memory.
# Usage: scripts/gpu/check.sh [path to tl] [output folder]
set -uo pipefail
tl=${1:-target/release/tl}
out=${2:-gpu-check}
mkdir -p "$out"
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
status=0
"$tl" doctor --device all >"$out/doctor.txt" 2>&1 || status=1
grep -E "FAIL|passed" "$out/doctor.txt" | tail -n 30
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
timeout 300 "$sanitizer" --tool memcheck --leak-check no --error-exitcode 9 "$tl" doctor --device cuda \
    >"$out/memcheck.txt" 2>&1
echo "memcheck exit $? ($(grep -c 'Invalid\|out of bounds' "$out/memcheck.txt") error lines)"
tail -n 3 "$out/memcheck.txt"
for filter in attention softmax reduce. rms_norm qmatmul matmul linear sample; do
    timeout 400 "$sanitizer" --tool racecheck --error-exitcode 9 "$tl" doctor --device cuda --filter "$filter" \
        >"$out/racecheck-$filter.txt" 2>&1
    echo "racecheck $filter exit $?: $(grep -E 'passed' "$out/racecheck-$filter.txt" | tail -n 1)"
done
exit $status
