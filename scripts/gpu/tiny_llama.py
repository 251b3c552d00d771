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
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
dtype = getattr(torch, sys.argv[2] if len(sys.argv) > 2 else "float32")
model_dir = os.path.join(out, "model")
os.makedirs(model_dir, exist_ok=True)

alphabet = pre_tokenizers.ByteLevel.alphabet()
vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
tokenizer.save(os.path.join(model_dir, "tokenizer.json"))

config = LlamaConfig(vocab_size=256, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
                     rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                     bos_token_id=None, eos_token_id=None)
torch.manual_seed(0)
model = LlamaForCausalLM(config)
with torch.no_grad():
    # Random weights at the default 0.02 scale give nearly flat logits; a larger output
    # head makes greedy decoding a meaningful comparison.
    model.lm_head.weight.normal_(0.0, 0.5)
model = model.to(dtype)
model.save_pretrained(model_dir, safe_serialization=True)

prompt = "Tensor logic joins and projects."
ids = tokenizer.encode(prompt).ids
with torch.no_grad():
    generated = model.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False,
                               pad_token_id=0)[0, len(ids):].tolist()
with open(os.path.join(out, "hf_greedy.txt"), "w") as f:
    f.write(prompt + tokenizer.decode(generated))
print("prompt ids", ids)
print("hf tokens", generated)
