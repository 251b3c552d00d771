"""Byte-level BPE pre-tokenizers other than the default model's, tokenized by llama.cpp.

The default model's vocabulary and merges are written into vocab-only GGUF files that differ
only in `tokenizer.ggml.pre` (llama-bpe, qwen2, gpt-2, default, starcoder), so llama.cpp's
regexes for each name (and llama 3's whole-word lookup) get an independent reference on real
merges. The GGUFs are temporary; only the token ids are committed, in
crates/tl-llm/tests/data/llamacpp/bpe_pretokenizers.json. The strings are those of
tokenization.json (written by llamacpp.py) and a few more where the regexes disagree.

Run (environment of llamacpp.py, plus gguf-py):
  . .venv/bin/activate && pip install gguf==0.19.0
  python scripts/reference/bpe_pretokenizers.py
"""

import json
import os
import tempfile
from pathlib import Path

import gguf
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "llamacpp"
MODEL = Path(os.environ.get("TL_HOME", Path.home() / ".cache" / "tensorlogic")) / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

PRE_NAMES = ["llama-bpe", "qwen2", "gpt-2", "default", "starcoder"]

# Strings where the regexes disagree: punctuation before letters, upper-case contractions,
# digit runs, punctuation followed by newlines, newline runs after spaces.
EXTRA = [
    "?hello (world) \"quoted\"",
    "DON'T, WON'T, I'LL, YOU'VE, HE'D",
    "12345678 and 1234",
    "Wait...!!!\n\nNext",
    "x  \n\n  y",
    "a\r\n\r\nb",
    "--flag=value_2 #tag @user",
    "price:$9.99;",
]


def main():
    reader = gguf.GGUFReader(str(MODEL))
    field = lambda key: reader.fields[key].contents()
    strings = [c["text"] for c in json.loads((OUT / "tokenization.json").read_text())["cases"]] + EXTRA
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pre in PRE_NAMES:
            path = Path(tmp) / f"{pre}.gguf"
            writer = gguf.GGUFWriter(str(path), "llama")
            writer.add_context_length(field("llama.context_length"))
            writer.add_embedding_length(field("llama.embedding_length"))
            writer.add_block_count(field("llama.block_count"))
            writer.add_feed_forward_length(field("llama.feed_forward_length"))
            writer.add_head_count(field("llama.attention.head_count"))
            writer.add_head_count_kv(field("llama.attention.head_count_kv"))
            writer.add_layer_norm_rms_eps(field("llama.attention.layer_norm_rms_epsilon"))
            writer.add_tokenizer_model("gpt2")
            writer.add_tokenizer_pre(pre)
            writer.add_token_list(field("tokenizer.ggml.tokens"))
            writer.add_token_types(field("tokenizer.ggml.token_type"))
            writer.add_token_merges(field("tokenizer.ggml.merges"))
            writer.add_bos_token_id(field("tokenizer.ggml.bos_token_id"))
            writer.add_eos_token_id(field("tokenizer.ggml.eos_token_id"))
            writer.add_add_bos_token(False)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
            llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
            results[pre] = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=True) for s in strings]
            del llm
    (OUT / "bpe_pretokenizers.json").write_text(
        json.dumps({"llama_cpp_python": llama_cpp.__version__, "strings": strings, "ids": results}, ensure_ascii=False)
    )
    print("wrote bpe_pretokenizers.json")


if __name__ == "__main__":
    main()
