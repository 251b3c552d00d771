"""Seed inputs for tl-llm's fuzz targets (crates/tl-llm/fuzz), written by independent tools.

gguf_file seeds: tiny llama GGUFs written by gguf-py (llama.cpp's own writer), with a
byte-level BPE vocabulary and merges, a SentencePiece vocabulary, a chat template, and
tensors in every supported type (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K, Q6_K) quantized
by gguf-py.

hf_folder seeds: a tiny llama Hugging Face folder written by the safetensors package and
json, packed into one input with the `#TLFILE#` marker the target splits on (see
fuzz_targets/hf_folder.rs for the order of the parts); one unsharded, one sharded.

Run (any environment with these packages):
  pip install gguf==0.19.0 safetensors numpy
  python scripts/fuzz/seeds.py
"""

import json
import struct
from pathlib import Path

import numpy as np
import gguf
from gguf.quants import quantize
from safetensors.numpy import save

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "crates" / "tl-llm" / "fuzz" / "seeds"
MARKER = b"#TLFILE#"

HIDDEN, FFN, HEADS, KV_HEADS, LAYERS = 32, 64, 4, 2, 1
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


def bpe_vocab():
    # Byte-level pieces for printable ASCII plus a few merges and specials.
    tokens = ["<unk>", "<s>", "</s>"] + [chr(c) for c in range(33, 127)] + ["Ġ", "Ġt", "he", "Ġthe", "ll", "llo"]
    merges = ["Ġ t", "h e", "Ġt he", "l l", "ll o"]
    types = [3, 3, 3] + [1] * (len(tokens) - 3)
    return tokens, merges, types


def spm_vocab():
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁", "e", "t", "▁t", "he", "▁the", "l", "o", "h"]
    scores = [0.0] * 259 + [-1.0 - i * 0.5 for i in range(len(pieces) - 259)]
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) - 259)
    return pieces, scores, types


def write_gguf(path, vocab_kind, qtype, vocab_size):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("fuzz seed")
    w.add_context_length(64)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_block_count(LAYERS)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    if vocab_kind == "gpt2":
        tokens, merges, types = bpe_vocab()
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("smollm")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
    else:
        tokens, scores, types = spm_vocab()
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(vocab_kind != "gpt2")
    w.add_chat_template(TEMPLATE)
    vocab = len(tokens)
    rng = np.random.default_rng(0)

    def tensor(name, rows, cols, kind=None):
        data = rng.standard_normal((rows, cols)).astype(np.float32)
        kind = kind if kind is not None else qtype
        if kind == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, data)
        elif kind == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, data.astype(np.float16))
        else:
            q = quantize(data, kind)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=kind)

    head_dim = HIDDEN // HEADS
    tensor("token_embd.weight", vocab, HIDDEN)
    tensor("output_norm.weight", 1, HIDDEN, gguf.GGMLQuantizationType.F32)
    for i in range(LAYERS):
        tensor(f"blk.{i}.attn_norm.weight", 1, HIDDEN, gguf.GGMLQuantizationType.F32)
        tensor(f"blk.{i}.attn_q.weight", HIDDEN, HIDDEN)
        tensor(f"blk.{i}.attn_k.weight", KV_HEADS * head_dim, HIDDEN)
        tensor(f"blk.{i}.attn_v.weight", KV_HEADS * head_dim, HIDDEN)
        tensor(f"blk.{i}.attn_output.weight", HIDDEN, HIDDEN)
        tensor(f"blk.{i}.ffn_norm.weight", 1, HIDDEN, gguf.GGMLQuantizationType.F32)
        tensor(f"blk.{i}.ffn_gate.weight", FFN, HIDDEN)
        tensor(f"blk.{i}.ffn_up.weight", FFN, HIDDEN)
        tensor(f"blk.{i}.ffn_down.weight", HIDDEN, FFN)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_seeds():
    out = SEEDS / "gguf_file"
    out.mkdir(parents=True, exist_ok=True)
    Q = gguf.GGMLQuantizationType
    # K-quants need rows of 256: only the Q4_0/Q4_1/Q8_0/F16/F32 files use HIDDEN = 32.
    for vocab_kind, qtype in [("gpt2", Q.Q4_1), ("gpt2", Q.Q8_0), ("llama", Q.Q4_0), ("gpt2", Q.F16), ("llama", Q.Q8_0), ("gpt2", Q.F32)]:
        write_gguf(out / f"llama_{vocab_kind}_{qtype.name.lower()}.gguf", vocab_kind, qtype, None)
    # A K-quant tensor table: Q4_K, Q6_K and BF16 tensors of 256 columns, no model (gguf-py
    # cannot quantize K-quants, so their blocks are random bytes of the right size).
    w = gguf.GGUFWriter(str(out / "kquants.gguf"), "llama")
    rng = np.random.default_rng(1)
    for name, kind in [("a.weight", Q.Q4_K), ("b.weight", Q.Q6_K), ("c.weight", Q.BF16)]:
        block, block_bytes = gguf.GGML_QUANT_SIZES[kind]
        raw = rng.integers(0, 256, size=(2, 256 // block * block_bytes), dtype=np.uint8)
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def hf_parts(sharded):
    rng = np.random.default_rng(2)
    vocab = 40
    head_dim = HIDDEN // HEADS
    shapes = {"model.embed_tokens.weight": (vocab, HIDDEN), "model.norm.weight": (HIDDEN,), "lm_head.weight": (vocab, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (HIDDEN,),
            p + "self_attn.q_proj.weight": (HIDDEN, HIDDEN),
            p + "self_attn.k_proj.weight": (KV_HEADS * head_dim, HIDDEN),
            p + "self_attn.v_proj.weight": (KV_HEADS * head_dim, HIDDEN),
            p + "self_attn.o_proj.weight": (HIDDEN, HIDDEN),
            p + "post_attention_layernorm.weight": (HIDDEN,),
            p + "mlp.gate_proj.weight": (FFN, HIDDEN),
            p + "mlp.up_proj.weight": (FFN, HIDDEN),
            p + "mlp.down_proj.weight": (HIDDEN, FFN),
        })
    dtypes = [np.float32, np.float16]
    tensors = {name: rng.standard_normal(shape).astype(dtypes[k % 2]) for k, (name, shape) in enumerate(shapes.items())}
    config = json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": FFN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 64, "vocab_size": vocab, "bos_token_id": 1, "eos_token_id": [2],
        "rope_scaling": {"type": "linear", "factor": 2.0}, "tie_word_embeddings": False,
    }).encode()
    tokenizer_config = json.dumps({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": True, "chat_template": TEMPLATE}).encode()
    letters = [chr(c) for c in range(97, 97 + vocab - 3)]
    tokenizer = json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {**{"<unk>": 0, "<s>": 1, "</s>": 2}, **{c: 3 + i for i, c in enumerate(letters)}}, "merges": []},
    }).encode()
    if not sharded:
        return [save(tensors), b"", b"", b"", config, tokenizer_config, tokenizer]
    names = sorted(tensors)
    half = len(names) // 2
    first = {n: tensors[n] for n in names[:half]}
    second = {n: tensors[n] for n in names[half:]}
    index = json.dumps({"metadata": {}, "weight_map": {**{n: "model-00001-of-00002.safetensors" for n in first}, **{n: "model-00002-of-00002.safetensors" for n in second}}}).encode()
    return [b"", index, save(first), save(second), config, tokenizer_config, tokenizer]


def hf_seeds():
    out = SEEDS / "hf_folder"
    out.mkdir(parents=True, exist_ok=True)
    (out / "unsharded").write_bytes(MARKER.join(hf_parts(False)))
    (out / "sharded").write_bytes(MARKER.join(hf_parts(True)))


if __name__ == "__main__":
    gguf_seeds()
    hf_seeds()
