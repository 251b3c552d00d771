"""Random-weight llama models as Hugging Face folders, for the GPU checks and benchmarks:
a real configuration (TinyLlama-1.1B, SmolLM2-135M, a 3B one or a small test one), random
weights from a seed, and a byte-level tokenizer.json whose vocabulary fills the model's.
Needs torch, transformers and tokenizers; nothing is downloaded.
"""

import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM

CONFIGS = {
    "tinyllama": dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                      num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                      max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=10000.0,
                      tie_word_embeddings=False),
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                         tie_word_embeddings=True),
    # Llama-3.2-3B's shape without its RoPE scaling: large enough that weight bytes, not
    # per-launch latency, set the decode speed (for comparing quantized with bf16 decoding).
    "llama-3b": dict(vocab_size=128256, hidden_size=3072, intermediate_size=8192,
                     num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8,
                     max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=500000.0,
                     tie_word_embeddings=True),
    "tiny": dict(vocab_size=256, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
                 rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
}


def byte_tokenizer(vocab_size):
    """Byte-level BPE without merges: every byte is a token, so a prompt of N ASCII
    characters is N tokens. Ids past the 256 bytes decode to placeholder text `<tN>`."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for i in range(len(vocab), vocab_size):
        vocab[f"<t{i}>"] = i
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def random_llama(name, dtype, model_dir, head_std, seed=0, device="cuda"):
    """Writes the folder and returns (model on `device` in `dtype`, tokenizer). Random
    weights at the default 0.02 scale give nearly flat logits; `head_std` scales the output
    head (or the tied embedding) so that greedy decoding means something."""
    os.makedirs(model_dir, exist_ok=True)
    tokenizer = byte_tokenizer(CONFIGS[name]["vocab_size"])
    tokenizer.save(os.path.join(model_dir, "tokenizer.json"))
    config = LlamaConfig(**CONFIGS[name], bos_token_id=None, eos_token_id=None)
    torch.manual_seed(seed)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.normal_(0.0, head_std)
    model = model.to(dtype).eval()
    model.save_pretrained(model_dir, safe_serialization=True)
    return model, tokenizer
