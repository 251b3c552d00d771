"""Prefill and decode speed of TensorLogic against llama.cpp, same machine, same model,
same threads, same tokens: a 512-token prompt, then 128 greedy tokens.

llama.cpp runs in-process through llama-cpp-python (built as ../shared/REFERENCE.md says:
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
pip install llama-cpp-python==0.3.36); TensorLogic runs as `tl bench generate` on the same
prompt text. The engines take turns, one run each per round, so that load from other
processes hits both alike; the medians over the rounds are reported. scripts/bench/
vs-llamacpp.sh builds everything and runs this. Usage (from the repository root, after
`cargo build --release`):

    python scripts/bench/vs_llamacpp.py [--threads 2] [--rounds 5] [--tl target/release/tl] [--model PATH]
"""

import argparse
import os
import re
import subprocess
import time

from llama_cpp import Llama

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--tl", default="target/release/tl")
home = os.environ.get("TL_HOME", os.path.expanduser("~/.cache/tensorlogic"))
parser.add_argument("--model", default=os.path.join(home, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
parser.add_argument("--prompt-tokens", type=int, default=512)
parser.add_argument("--decode-tokens", type=int, default=128)
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()

llm = Llama(model_path=args.model, n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
            n_batch=args.prompt_tokens, verbose=False)
paragraph = ("Tensor logic writes neural networks and symbolic rules as tensor equations. "
             "A join multiplies tensors over shared indices and a projection sums the rest. ")
ids = llm.tokenize((paragraph * 64).encode(), add_bos=False, special=False)[: args.prompt_tokens]
prompt_text = llm.detokenize(ids).decode()
ids = llm.tokenize(prompt_text.encode(), add_bos=False, special=False)

def llama_cpp_run():
    llm.reset()
    start = time.perf_counter()
    tokens = llm.generate(ids, top_k=1, temp=0.0, reset=True)
    next(tokens)  # the first token comes from the prefill
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.decode_tokens - 1):
        next(tokens)
    decode = time.perf_counter() - start
    return len(ids) / prefill, (args.decode_tokens - 1) / decode

def tl_run():
    out = subprocess.run([args.tl, "bench", "generate", "--model", args.model, "--threads", str(args.threads),
                          "--prompt", prompt_text, "--prompt-tokens", str(len(ids)),
                          "--decode-tokens", str(args.decode_tokens), "--runs", "1"],
                         capture_output=True, text=True, check=True)
    prefill = re.search(r"prefill: (\d+) tokens at ([\d.]+) tokens/s", out.stdout)
    decode = re.search(r"decode: (\d+) tokens at ([\d.]+) tokens/s", out.stdout)
    load = re.search(r"load: ([\d.]+) s", out.stdout)
    assert prefill and decode and load, out.stdout + out.stderr
    assert int(prefill.group(1)) == len(ids), f"tl ran {prefill.group(1)} prompt tokens, llama.cpp {len(ids)}"
    return float(prefill.group(2)), float(decode.group(2)), float(load.group(1))

def median(values):
    values = sorted(values)
    return values[len(values) // 2]

llama_cpp_run()  # warm-up (tl warms up inside each run)
ours, theirs = [], []
load_before = os.getloadavg()[0]
for _ in range(args.rounds):
    ours.append(tl_run())
    theirs.append(llama_cpp_run())
load_after = os.getloadavg()[0]
col = lambda rows, i: median([r[i] for r in rows])
print(f"prompt {len(ids)} tokens, decode {args.decode_tokens} tokens, {args.threads} threads, "
      f"median of {args.rounds} interleaved rounds (load average {load_before:.1f} -> {load_after:.1f})")
print(f"{'':12} {'prefill tok/s':>14} {'decode tok/s':>13}")
print(f"{'TensorLogic':12} {col(ours, 0):14.1f} {col(ours, 1):13.1f}")
print(f"{'llama.cpp':12} {col(theirs, 0):14.1f} {col(theirs, 1):13.1f}")
print(f"{'ratio':12} {col(ours, 0) / col(theirs, 0):14.2f} {col(ours, 1) / col(theirs, 1):13.2f}")
print(f"TensorLogic model load: {col(ours, 2):.3f} s")
print(f"llama.cpp OpenMP wait policy: {os.environ.get('OMP_WAIT_POLICY', 'default (threads spin)')}; "
      "on a machine shared with other busy processes, spinning threads lose their cores and "
      "OMP_WAIT_POLICY=PASSIVE is the fairer setting")
print("per round (prefill, decode) TensorLogic / llama.cpp: " +
      "; ".join(f"{a[0]:.0f},{a[1]:.0f} / {b[0]:.0f},{b[1]:.0f}" for a, b in zip(ours, theirs)))
