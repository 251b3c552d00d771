#!/usr/bin/env bash
# Replayed decode steps (CUDA graphs, run ahead of the host) against eager ones, on random-
# weight models: the same text for greedy and sampled generation of 1, 2, 3 and 64 tokens, a
# multi-turn chat with /reset, a stop string, in bf16, Q4_0 and Q8_0; then 20 runs of one
# seeded generation, which must all agree. Needs torch and transformers (random_llama.py).
# Usage: scripts/gpu/decode_check.sh [path to tl] [models folder]
set -uo pipefail
tl=${1:-target/release/tl}
models=${2:-/tmp/tl-decode-check}
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
here=$(dirname "$0")
python3 - "$here" "$models" <<'PY'
import json, os, sys
import torch
sys.path.insert(0, sys.argv[1])
from random_llama import random_llama
for name in ["tinyllama", "smollm2-135m"]:
    folder = os.path.join(sys.argv[2], name)
    if not os.path.exists(os.path.join(folder, "config.json")):
        random_llama(name, torch.bfloat16, folder, head_std=0.1)
    # A plain template, so that `tl chat` runs on the random models.
    template = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"chat_template": template}, f)
PY
prompt="The quick brown fox jumps over the lazy dog and then"
same=0 different=0
compare() {  # label, then the arguments of one run; stdin is given to both runs (not
    # through a pipe: the counts would stay in its subshell)
    local label=$1; shift
    local input; input=$(cat)
    "$tl" "$@" <<<"$input" >/tmp/decode-graph.txt 2>/tmp/decode-graph.err || tail -n 3 /tmp/decode-graph.err
    "$tl" "$@" --eager <<<"$input" >/tmp/decode-eager.txt 2>/tmp/decode-eager.err || tail -n 3 /tmp/decode-eager.err
    if cmp -s /tmp/decode-graph.txt /tmp/decode-eager.txt; then
        same=$((same + 1))
    else
        different=$((different + 1))
        echo "DIFFERENT: $label"
    fi
}
for weights in "tinyllama" "tinyllama --quantize q4_0" "tinyllama --quantize q8_0" "smollm2-135m"; do
    set -- $weights
    model=(--device cuda --model "$models/$1" "${@:2}")
    for sampling in "" "--temperature 0.9 --seed 7" "--temperature 1.2 --top-k 0 --top-p 0.9 --min-p 0 --seed 3"; do
        lengths="64"
        [ -z "$sampling" ] && lengths="1 2 3 64"
        for n in $lengths; do
            compare "$weights $sampling, $n tokens" generate "${model[@]}" $sampling --prompt "$prompt" \
                --max-tokens "$n" --ignore-eos </dev/null
        done
    done
    compare "$weights chat" chat "${model[@]}" --max-tokens 40 \
        < <(printf 'hello there\ntell me more about it\n/reset\nagain\n/exit\n')
done
compare "stop string" generate --device cuda --model "$models/smollm2-135m" --prompt "$prompt" \
    --max-tokens 64 --stop "<t" </dev/null
echo "graph and eager: $same identical, $different different"
runs=$(for _ in $(seq 20); do
    "$tl" generate --device cuda --model "$models/tinyllama" --quantize q4_0 --temperature 0.9 --seed 11 \
        --prompt "$prompt" --max-tokens 48 --ignore-eos 2>/dev/null | md5sum
done | sort -u | wc -l)
echo "20 seeded runs: $runs distinct output(s)"
[ "$different" -eq 0 ] && [ "$runs" -eq 1 ]
