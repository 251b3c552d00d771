"""A tiny llama GGUF with a real SentencePiece vocabulary, and llama.cpp's and sentencepiece's
answers on it: the end-to-end reference for `tokenizer.ggml.model = llama` models
(TinyLlama, Llama 2), none of which can be downloaded here.

1. Trains a SentencePiece BPE model (byte fallback, digits split, identity normalization,
   the dummy-prefix space: Llama 2's settings) with the `sentencepiece` package on
   scripts/reference/data/spm_corpus.txt.
2. Writes crates/tl-llm/tests/data/spm_model/tiny_llama_spm.gguf with gguf-py: architecture
   llama, 2 blocks, width 64, 4 heads, 2 KV heads, f32 weights drawn from a seeded normal
   distribution, an untied output head, and the SentencePiece pieces, scores and types as
   llama.cpp's converter writes them.
3. Writes reference.json: for each test string the ids from llama.cpp (vocab_only, with and
   without BOS) and from sentencepiece, and llama.cpp's detokenized text; and for three
   prompts their ids, with llama.cpp's next-token logits at every position in logits.f32
   (little-endian f32, positions x vocab, one prompt after another).

Run (llama-cpp-python built as scripts/reference/llamacpp.py says):
  pip install sentencepiece==0.2.3 gguf==0.19.0 numpy
  python scripts/reference/spm_model.py
"""

import json
from pathlib import Path

import numpy as np
import gguf
import sentencepiece as spm
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "scripts" / "reference" / "data" / "spm_corpus.txt"
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "spm_model"
VOCAB_SIZE = 600
WIDTH, FFN, LAYERS, HEADS, KV_HEADS, CONTEXT = 64, 128, 2, 4, 2, 128

STRINGS = [
    "", " ", "  ", "   leading spaces", "trailing spaces   ", "\n", "\n\n", "\t", "a\tb\nc",
    "Hello", "Hello world", " Hello world", "Hello, world!", "hello   world",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Answer in one sentence.",
    "I'm sure you've seen it; they'll say we'd done it.", "DON'T SHOUT, it's RUDE",
    "1", "12", "123", "1234567890", "3.14159 and 2,718 and -42", "$19.99 or 100%",
    "café", "naïve résumé", "Zürich and São Paulo", "crème brûlée", "Ærø",
    "日本語", "中文字符", "한국어", "Привет, мир", "Γειά σου", "مرحبا", "שלום",
    "emoji 😀 and 👍🏽", "🚀🚀🚀", "a😀b",
    "def add(a, b):\n    return a + b", "fn main() { println!(\"{}\", 1); }", "for i in range(10):\n\tprint(i)",
    "<s>", "</s>", "<unk>", "text <s> inside", "x</s>y",
    "unseenword qwzx", "ZZZZZZ", "____", "....", "!!??", "(parentheses) [brackets] {braces}",
    "tensor equations join and project indices", "The mill ground the grain.",
    "A journey of a thousand miles", "\u00a0non-breaking\u00a0space", "zero\u200bwidth",
    "mixed CASE Words", "ALLCAPS", "e", "ee", "eee",
]

PROMPTS = [
    "The capital of France is",
    "Once upon a time there was",
    "def add(a, b):\n    return",
]

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def train(prefix):
    spm.SentencePieceTrainer.train(
        input=str(CORPUS),
        model_prefix=str(prefix),
        vocab_size=VOCAB_SIZE,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=str(prefix) + ".model")


def vocabulary(sp):
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(UNKNOWN)
        elif sp.is_control(i):
            types.append(CONTROL)
        elif sp.is_unused(i):
            types.append(UNUSED)
        elif sp.is_byte(i):
            types.append(BYTE)
        else:
            types.append(NORMAL)
    return tokens, scores, types


def write_gguf(path, sp):
    tokens, scores, types = vocabulary(sp)
    vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama-spm")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(WIDTH)
    w.add_feed_forward_length(FFN)
    w.add_block_count(LAYERS)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(WIDTH // HEADS)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    rng = np.random.default_rng(1234)
    head_dim = WIDTH // HEADS

    def add(name, *shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    add("token_embd.weight", vocab, WIDTH, scale=1.0)
    add("output_norm.weight", WIDTH, scale=0.1)
    add("output.weight", vocab, WIDTH)
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", (1.0 + 0.1 * rng.standard_normal(WIDTH)).astype(np.float32))
        add(p + "attn_q.weight", WIDTH, WIDTH)
        add(p + "attn_k.weight", KV_HEADS * head_dim, WIDTH)
        add(p + "attn_v.weight", KV_HEADS * head_dim, WIDTH)
        add(p + "attn_output.weight", WIDTH, WIDTH)
        w.add_tensor(p + "ffn_norm.weight", (1.0 + 0.1 * rng.standard_normal(WIDTH)).astype(np.float32))
        add(p + "ffn_gate.weight", FFN, WIDTH)
        add(p + "ffn_up.weight", FFN, WIDTH)
        add(p + "ffn_down.weight", WIDTH, FFN)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sp = train(OUT / "tiny_llama_spm")
    path = OUT / "tiny_llama_spm.gguf"
    write_gguf(path, sp)
    (OUT / "tiny_llama_spm.vocab").unlink()

    vocab_only = Llama(model_path=str(path), vocab_only=True, verbose=False)
    cases = []
    for s in STRINGS:
        data = s.encode("utf-8")
        ids = vocab_only.tokenize(data, add_bos=False, special=False)
        cases.append(
            {
                "text": s,
                "ids": ids,
                "ids_with_bos": vocab_only.tokenize(data, add_bos=True, special=False),
                "ids_special": vocab_only.tokenize(data, add_bos=False, special=True),
                "sentencepiece_ids": sp.encode(s),
                "sentencepiece_decoded": sp.decode(ids),
            }
        )
    del vocab_only

    llm = Llama(model_path=str(path), n_ctx=CONTEXT, n_batch=CONTEXT, logits_all=True, n_threads=2, seed=0, verbose=False)
    prompts, rows = [], []
    for text in PROMPTS:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
        prompts.append({"text": text, "ids": ids, "first_row": len(rows)})
        rows.extend(logits)
    np.stack(rows).astype("<f4").tofile(OUT / "logits.f32")
    (OUT / "reference.json").write_text(
        json.dumps(
            {
                "llama_cpp_python": llama_cpp.__version__,
                "sentencepiece": spm.__version__,
                "gguf": path.name,
                "vocab_size": sp.get_piece_size(),
                "cases": cases,
                "logits_file": "logits.f32",
                "prompts": prompts,
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
