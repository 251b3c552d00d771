"""Prefill and decode speed of TensorLogic against llama.cpp, same machine, same model,
same threads, same tokens: a 512-token prompt, then 128 greedy tokens.

llama.cpp runs in-process through llama-cpp-python (built as ../shared/REFERENCE.md says:
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
pip install llama-cpp-python==0.3.36); TensorLogic runs as `tl generate`, whose stderr
reports its speeds. Usage (from the repository root, after `cargo build --release`):

    python scripts/bench/vs_llamacpp.py [--threads 2] [--tl target/release/tl] [--model PATH]
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
    out = subprocess.run([args.tl, "generate", "--model", args.model, "--threads", str(args.threads),
                          "--prompt", prompt_text, "--max-tokens", str(args.decode_tokens),
                          "--ignore-eos", "--context", "2048"],
                         capture_output=True, text=True, check=True)
    m = re.search(r"prefill: (\d+) tokens at ([\d.]+) tokens/s; decode: (\d+) tokens at ([\d.]+)", out.stderr)
    assert m, out.stderr
    assert int(m.group(1)) == len(ids), f"tl tokenized {m.group(1)} prompt tokens, llama.cpp {len(ids)}"
    return float(m.group(2)), float(m.group(4))

llama_cpp_run()  # warm-up
tl_run()
runs = 3
ours = [tl_run() for _ in range(runs)]
theirs = [llama_cpp_run() for _ in range(runs)]
best = lambda rows, i: max(r[i] for r in rows)
print(f"prompt {len(ids)} tokens, decode {args.decode_tokens} tokens, {args.threads} threads, best of {runs}")
print(f"{'':12} {'prefill tok/s':>14} {'decode tok/s':>13}")
print(f"{'TensorLogic':12} {best(ours, 0):14.1f} {best(ours, 1):13.1f}")
print(f"{'llama.cpp':12} {best(theirs, 0):14.1f} {best(theirs, 1):13.1f}")
print(f"{'ratio':12} {best(ours, 0) / best(theirs, 0):14.2f} {best(ours, 1) / best(theirs, 1):13.2f}")
