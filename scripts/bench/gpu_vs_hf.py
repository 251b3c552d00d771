"""Batch-1 LLM speed on one GPU: `tl` against Hugging Face transformers on the same random
weights, in one run, printing each figure and the ratios (issue #5's speed section).

For each configuration (TinyLlama-1.1B and SmolLM2-135M shapes, bf16, random weights):
decode of 128 tokens after a 32-token prompt, and prefill of a 512-token prompt, for
  - transformers eager `generate` (dynamic cache) and its static-cache variant,
  - `tl bench generate --device cuda` (one warm-up run, medians of five), in bf16 and with
    the weights quantized to Q8_0, Q4_0 and Q4_1 (the default model's format) by tl itself
    at load (`--quantize`); the 3B shape (`llama-3b`) is measured only when named: it takes
    minutes.
Decode is also shown as a fraction of the memory-bandwidth limit: copy bandwidth measured
here ÷ the weight bytes each token reads.

Usage: python scripts/bench/gpu_vs_hf.py TL_BINARY WORK_DIR [config ...]
"""

import os
import re
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
from random_llama import random_llama  # noqa: E402

PROMPT_TOKENS, DECODE_TOKENS, PREFILL_TOKENS = 32, 128, 512
TEXT = ("Tensor logic unifies neural and symbolic AI: a rule is an einsum, a relation is a "
        "sparse Boolean tensor, and a network is a set of tensor equations. ") * 8


def synced(fn):
    torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start, result


def copy_bandwidth():
    """Device-to-device copy bandwidth in bytes/s (read + write), median of 10."""
    source = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    target.copy_(source)
    times = [synced(lambda: target.copy_(source))[0] for _ in range(10)]
    return 2 * source.numel() / statistics.median(times)


def weight_bytes_per_token(model):
    """Bytes of weights a decode step reads: all of them but the embedding table, which is
    gathered one row at a time (unless it is also the tied output head)."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    if not model.config.tie_word_embeddings:
        embedding = model.model.embed_tokens.weight
        total -= embedding.numel() * embedding.element_size()
    return total


def hf_figures(model, ids32, ids512):
    figures = {}
    with torch.no_grad():
        prompt = torch.tensor([ids32], device="cuda")
        long_prompt = torch.tensor([ids512], device="cuda")
        for variant, extra in [("hf eager", {}), ("hf static cache",
                                                  {"cache_implementation": "static"})]:
            def run():
                return model.generate(prompt, max_new_tokens=DECODE_TOKENS,
                                      min_new_tokens=DECODE_TOKENS, do_sample=False,
                                      pad_token_id=0, **extra)
            run()
            total = statistics.median(synced(run)[0] for _ in range(3))
            prefill = statistics.median(
                synced(lambda: model(prompt, use_cache=True))[0] for _ in range(5))
            figures[variant] = {"decode": (DECODE_TOKENS - 1) / (total - prefill)}
        model(long_prompt)
        prefill = statistics.median(synced(lambda: model(long_prompt))[0] for _ in range(5))
        figures["hf eager"]["prefill"] = PREFILL_TOKENS / prefill
    return figures


def tl_run(tl, model_dir, prompt_tokens, decode_tokens, quantize):
    command = [tl, "bench", "generate", "--device", "cuda", "--model", model_dir,
               "--prompt-tokens", str(prompt_tokens), "--decode-tokens", str(decode_tokens),
               "--runs", "5"]
    if quantize:
        command += ["--quantize", quantize]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        return None
    figures = {}
    for key in ["load", "prefill", "decode"]:
        match = re.search(key + r": (?:\d+ tokens at )?([\d.]+)", done.stdout)
        figures[key] = float(match.group(1))
    return figures


def tl_figures(tl, model_dir, quantize=None):
    """`tl bench generate` (warmed up, medians): decode after the short prompt, prefill of
    the long one."""
    decode = tl_run(tl, model_dir, PROMPT_TOKENS, DECODE_TOKENS, quantize)
    prefill = tl_run(tl, model_dir, PREFILL_TOKENS, 2, quantize)
    if decode is None or prefill is None:
        return None
    return {"decode": decode["decode"], "prefill": prefill["prefill"],
            "load_seconds": decode["load"]}


def main():
    tl, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or ["tinyllama", "smollm2-135m"]
    bandwidth = copy_bandwidth()
    print(f"{torch.cuda.get_device_name()}: copy bandwidth {bandwidth / 1e9:.0f} GB/s")
    for name in names:
        model_dir = os.path.join(work, name)
        model, tokenizer = random_llama(name, torch.bfloat16, model_dir, head_std=0.1)
        ids = tokenizer.encode(TEXT).ids
        limit = bandwidth / weight_bytes_per_token(model)
        print(f"\n{name} bf16: {weight_bytes_per_token(model) / 1e9:.2f} GB of weights per "
              f"token, bandwidth limit {limit:.0f} tokens/s")
        hf = hf_figures(model, ids[:PROMPT_TOKENS], ids[:PREFILL_TOKENS])
        del model
        torch.cuda.empty_cache()
        for variant, figures in hf.items():
            line = f"  {variant:18} decode {figures['decode']:8.1f} tok/s"
            if "prefill" in figures:
                line += f"   prefill {figures['prefill']:9.1f} tok/s"
            print(line)
        # Q4_1 is the default model's format; SmolLM2's shape is the default model's.
        variants = [None, "q8_0", "q4_0", "q4_1"]
        bf16_decode = None
        for quantize in variants:
            ours = tl_figures(tl, model_dir, quantize)
            if ours is None:
                continue
            label = f"tl {quantize or 'bf16'}"
            line = (f"  {label:18} decode {ours['decode']:8.1f} tok/s "
                    f"({ours['decode'] / hf['hf eager']['decode']:.2f}× eager, "
                    f"{ours['decode'] / hf['hf static cache']['decode']:.2f}× static")
            if quantize is None:
                bf16_decode = ours["decode"]
                line += f", {ours['decode'] / limit:.0%} of the bandwidth limit)"
                line += (f"   prefill {ours['prefill']:9.1f} tok/s "
                         f"({ours['prefill'] / hf['hf eager']['prefill']:.2f}× eager)")
            else:
                line += f", {ours['decode'] / bf16_decode:.2f}× tl bf16)" if bf16_decode else ")"
            print(line + f"   load {ours['load_seconds']:.2f} s")


if __name__ == "__main__":
    main()
