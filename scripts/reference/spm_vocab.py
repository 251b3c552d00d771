"""A tiny SentencePiece (`llama`) vocabulary as a vocab-only GGUF, tokenized by llama.cpp.

The default model uses a byte-level BPE vocabulary; this script gives the SentencePiece path
(scores, byte fallback <0xXX>, the ▁ space, the dummy prefix, control tokens) its own
independent reference. The vocabulary is made up here (pieces and scores chosen so merges
compete); the GGUF is written with gguf-py and tokenized with llama.cpp (vocab_only).

Writes crates/tl-llm/tests/data/llamacpp/spm_vocab.gguf and spm_tokenization.json.

Run (same environment as llamacpp.py, plus gguf-py):
  . .venv/bin/activate && pip install gguf==0.19.0
  python scripts/reference/spm_vocab.py
"""

import ctypes
import json
from pathlib import Path

import gguf
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "llamacpp"

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6

PIECES = [
    # (piece, score); higher scores merge first
    ("▁", -1.0), ("e", -2.0), ("t", -2.1), ("a", -2.2), ("o", -2.3), ("h", -2.4), ("l", -2.5),
    ("r", -2.6), ("d", -2.7), ("w", -2.8), ("s", -2.9), ("n", -3.0), ("i", -3.1), ("c", -3.2),
    ("f", -3.3), ("u", -3.4), ("m", -3.5), ("g", -3.6), ("b", -3.7), ("p", -3.8), ("y", -3.9),
    ("k", -4.0), ("v", -4.1), ("x", -4.2), ("T", -4.3), ("H", -4.4), ("W", -4.5), ("I", -4.6),
    (",", -4.7), (".", -4.8), ("!", -4.9), ("?", -5.0), ("'", -5.1), ("1", -5.2), ("2", -5.3),
    ("3", -5.4), ("é", -5.5),
    ("▁t", -6.0), ("he", -6.1), ("▁the", -6.2), ("▁th", -6.3), ("ll", -6.4), ("llo", -6.5),
    ("▁he", -6.6), ("▁hello", -6.7), ("▁w", -6.8), ("or", -6.9), ("ld", -7.0), ("▁wor", -7.1),
    ("▁world", -7.2), ("▁a", -7.3), ("an", -7.4), ("▁an", -7.5), ("nd", -7.6), ("▁and", -7.7),
    ("in", -7.8), ("ing", -7.9), ("▁s", -8.0), ("er", -8.1), ("▁T", -8.2), ("▁The", -8.3),
    ("▁▁", -8.4), ("▁▁▁▁", -8.5), ("at", -8.6), ("▁c", -8.7), ("▁cat", -8.8), ("es", -8.9),
    ("▁I", -9.0), ("'s", -9.1), ("▁is", -9.2), ("is", -9.3), ("▁it", -9.4), ("▁café", -9.5),
    ("af", -9.6), ("▁caf", -9.7), ("12", -9.8), ("▁1", -9.9), ("▁12", -10.0),
    ("ab", -10.1), ("bc", -10.2), ("abc", -10.3),
]

STRINGS = [
    "",
    "hello",
    "hello world",
    " hello world",
    "Hello World",
    "the cat and the hat",
    "The cat's hat is red.",
    "  two leading spaces",
    "trailing   ",
    "a    b",
    "line one\nline two",
    "café",
    "naïve",
    "日本",
    "emoji 😀!",
    "abcabc",
    "123 12 1",
    "<s>hello</s>",
    "hello<s> world",
    "I think, therefore I am?",
    "tab\there",
    "<0x41>",
]


def build_vocab():
    tokens, scores, types = [], [], []

    def add(text, score, kind):
        tokens.append(text)
        scores.append(score)
        types.append(kind)

    add("<unk>", 0.0, UNKNOWN)
    add("<s>", 0.0, CONTROL)
    add("</s>", 0.0, CONTROL)
    for b in range(256):
        add(f"<0x{b:02X}>", 0.0, BYTE)
    for piece, score in PIECES:
        add(piece, score, NORMAL)
    add("<|user|>", 0.0, USER_DEFINED)
    return tokens, scores, types


def llama_detokenize(llm, ids):
    array = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    buffer = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_detokenize(llm._model.vocab, array, len(ids), buffer, len(buffer), False, True)
    assert n >= 0, "buffer too small"
    return buffer.raw[:n].decode("utf-8", errors="replace")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "spm_vocab.gguf"
    tokens, scores, types = build_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("spm-vocab-test")
    writer.add_context_length(256)
    writer.add_embedding_length(64)
    writer.add_block_count(1)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    cases = []
    for s in STRINGS:
        cases.append(
            {
                "text": s,
                "ids_add_special": llm.tokenize(s.encode("utf-8"), add_bos=True, special=True),
                "ids": llm.tokenize(s.encode("utf-8"), add_bos=False, special=True),
                "ids_special_as_text": llm.tokenize(s.encode("utf-8"), add_bos=False, special=False),
            }
        )
    for case in cases:
        # Pieces one after another, as a streaming caller sees them.
        case["pieces_concatenated"] = llm.detokenize(case["ids"], special=True).decode("utf-8", errors="replace")
        # llama.cpp's own llama_detokenize, which drops the dummy-prefix space.
        case["detokenized"] = llama_detokenize(llm, case["ids"])
    (OUT / "spm_tokenization.json").write_text(
        json.dumps(
            {"llama_cpp_python": llama_cpp.__version__, "gguf": path.name, "cases": cases},
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"wrote {path} and spm_tokenization.json")


if __name__ == "__main__":
    main()
