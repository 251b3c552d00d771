"""Makes a small random-weight llama as a Hugging Face folder (config.json, safetensors,
a byte-level tokenizer.json) and writes Hugging Face transformers' greedy continuation of a
prompt, to compare with `tl generate` on the CPU and the GPU. Needs torch, transformers and
tokenizers (installed beside CUDA on the GPU machines); nothing is downloaded.

Usage: python scripts/gpu/tiny_llama.py OUT_DIR [dtype: float32|bfloat16]
Writes OUT_DIR/model/ and OUT_DIR/hf_greedy.txt (the continuation's text).
"""

import os
import sys

import torch

from random_llama import random_llama

out = sys.argv[1]
dtype = getattr(torch, sys.argv[2] if len(sys.argv) > 2 else "float32")
model, tokenizer = random_llama("tiny", dtype, os.path.join(out, "model"), head_std=0.5,
                                device="cpu")
prompt = "Tensor logic joins and projects."
ids = tokenizer.encode(prompt).ids
with torch.no_grad():
    generated = model.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False,
                               pad_token_id=0)[0, len(ids):].tolist()
with open(os.path.join(out, "hf_greedy.txt"), "w") as f:
    f.write(prompt + tokenizer.decode(generated))
print("prompt ids", ids)
print("hf tokens", generated)
