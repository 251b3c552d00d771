"""Reference data from llama.cpp (through llama-cpp-python) for the default model.

Writes into crates/tl-llm/tests/data/llamacpp/:
  tokenization.json  token ids for varied strings (add_bos off as the model says, special=True,
                     and also special=False), and llama.cpp's detokenized text of those ids.
  logits.json        3 short prompts: token ids, argmax and max logit per position, and where
                     each position's full logits lie in logits.f16.
  logits.f16         the full next-token logits at every position of the 3 prompts, as
                     little-endian IEEE float16, row after row (positions x vocab).
  greedy.json        5 chat prompts rendered with the model's own chat template by
                     llama-cpp-python's Jinja2ChatFormatter (the rendered text is recorded),
                     their token ids, and the greedy continuation (up to 64 tokens, stopping at
                     an end-of-generation token) with the top-1/top-2 logit margin at each step.

How it was built and run (llama.cpp's native build crashes on these AMX CPUs):
  python3 -m venv .venv && . .venv/bin/activate
  pip install numpy
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" \
    pip install llama-cpp-python==0.3.36
  scripts/fetch-model.sh
  python scripts/reference/llamacpp.py
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import llama_cpp
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "llamacpp"
MODEL = Path(os.environ.get("TL_HOME", Path.home() / ".cache" / "tensorlogic")) / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

STRINGS = [
    "",
    " ",
    "  ",
    "\n",
    "\n\n\n",
    "\t",
    "Hello",
    "Hello world",
    " Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Answer in one sentence.",
    "I'm sure you've seen it; they'll say we'd done it.",
    "DON'T SHOUT, it's RUDE",
    "1",
    "12",
    "123",
    "1234567890",
    "3.14159 and 2,718 and -42 and 1e-10",
    "version v2.0.1-rc3",
    "café",
    "naïve façade über straße",
    "Ελληνικά και русский язык",
    "日本語のテキスト",
    "中文分词测试：你好，世界！",
    "한국어 텍스트",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "emoji: 😀🎉👍🏽 and 👨‍👩‍👧‍👦",
    "🦀 Rust",
    "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
    "fn main() {\n\tprintln!(\"hi\");\n}\n",
    "if (a && b || !c) { x += 1; } // comment",
    "<html><body class=\"x\">text</body></html>",
    "SELECT * FROM users WHERE id = 42;",
    "a  b   c    d",
    "trailing spaces   ",
    "   leading spaces",
    "tabs\tand\ttabs\t\t",
    "line1\nline2\r\nline3\rline4",
    "mixed \n \t \n whitespace",
    "<|im_start|>",
    "<|im_start|>user\nHi there<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    "<|im_end|><|im_end|>",
    "not special: <|im_start |> and < |im_end|>",
    "<repo_name>tensorlogic<file_sep>main.rs",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "$100.00 (50% off!) #hashtag @mention",
    "~`!@#$%^&*()_+-=[]{}|;':\",./<>?",
    "ÀÁÂÃÄÅ àáâãäå ÇçÑñ",
    "\u00a0non-breaking\u2003em-space\u3000ideographic",
    "zero\u200bwidth",
    "ﬁ ligature and Å (A + ring)",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "The year 2024 had 366 days.",
    "Ça va? Très bien, merci.",
    "¿Qué tal? ¡Muy bien!",
]

LOGIT_PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "def add(a, b):\n    return",
]

CHAT_PROMPTS = [
    [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [
        {"role": "system", "content": "You are a terse assistant. Reply in at most ten words."},
        {"role": "user", "content": "Why is the sky blue?"},
    ],
    [{"role": "user", "content": "List three prime numbers."}],
    [
        {"role": "user", "content": "Hi! My name is Ada."},
        {"role": "assistant", "content": "Hello Ada! How can I help you today?"},
        {"role": "user", "content": "What is my name?"},
    ],
]

MAX_NEW_TOKENS = 64


def text_of(llm, ids):
    return llm.detokenize(ids, special=True).decode("utf-8", errors="replace")


def chat_formatter(llm):
    """The model's chat template as llama-cpp-python's chat completion renders it, and the
    BOS and EOS texts it is given."""
    bos_text = llm._model.token_get_text(llm.token_bos())
    eos_text = llm._model.token_get_text(llm.token_eos())
    template = llm.metadata["tokenizer.chat_template"]
    return Jinja2ChatFormatter(template=template, eos_token=eos_text, bos_token=bos_text), bos_text, eos_text


def main():
    if not MODEL.is_file():
        sys.exit(f"{MODEL} is missing: run scripts/fetch-model.sh")
    OUT.mkdir(parents=True, exist_ok=True)
    llm = Llama(
        model_path=str(MODEL),
        n_ctx=1024,
        n_batch=512,
        logits_all=True,
        n_threads=2,
        seed=0,
        verbose=False,
    )
    vocab = llm.n_vocab()
    add_bos = llm.metadata.get("tokenizer.ggml.add_bos_token") == "true"
    assert not add_bos, "the default model does not add BOS"
    eog = [i for i in range(vocab) if llama_cpp.llama_vocab_is_eog(llm._model.vocab, i)]
    common = {
        "llama_cpp_python": llama_cpp.__version__,
        "model": MODEL.name,
        "n_vocab": vocab,
        "end_of_generation_ids": eog,
    }

    # ---- tokenization ----
    cases = []
    for s in STRINGS:
        ids = llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)
        plain = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
        cases.append(
            {
                "text": s,
                "ids": ids,
                "ids_special_as_text": plain,
                "detokenized": text_of(llm, ids),
            }
        )
    (OUT / "tokenization.json").write_text(
        json.dumps({**common, "add_bos": False, "special": True, "cases": cases}, ensure_ascii=False, indent=1)
    )

    # ---- logits ----
    rows = []
    prompts = []
    for p in LOGIT_PROMPTS:
        ids = llm.tokenize(p.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
        assert logits.shape == (len(ids), vocab)
        prompts.append(
            {
                "text": p,
                "ids": ids,
                "first_row": len(rows),
                "argmax": [int(a) for a in logits.argmax(axis=1)],
                "max_logit": [float(m) for m in logits.max(axis=1)],
            }
        )
        rows.extend(logits)
    table = np.stack(rows).astype("<f2")
    table.tofile(OUT / "logits.f16")
    (OUT / "logits.json").write_text(
        json.dumps(
            {
                **common,
                "file": "logits.f16",
                "dtype": "float16 little-endian",
                "rows": int(table.shape[0]),
                "columns": vocab,
                "prompts": prompts,
            },
            ensure_ascii=False,
            indent=1,
        )
    )

    # ---- greedy chat continuations ----
    template = llm.metadata["tokenizer.chat_template"]
    formatter, bos_text, eos_text = chat_formatter(llm)
    runs = []
    for messages in CHAT_PROMPTS:
        rendered = formatter(messages=messages)
        # As llama-cpp-python's chat completion does: add_bos=True defers to the model's
        # add_bos_token (false here), special=True parses <|im_start|>.
        ids = llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
        llm.reset()
        llm.eval(ids)
        generated, margins = [], []
        stopped_at_eog = False
        for _ in range(MAX_NEW_TOKENS):
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            top2 = np.argsort(row)[-2:][::-1]
            token = int(top2[0])
            margins.append(float(row[top2[0]] - row[top2[1]]))
            generated.append(token)
            if token in eog:
                stopped_at_eog = True
                break
            llm.eval([token])
        runs.append(
            {
                "messages": messages,
                "add_generation_prompt": True,
                "bos_token": bos_text,
                "eos_token": eos_text,
                "rendered_prompt": rendered.prompt,
                "prompt_ids": ids,
                "generated_ids": generated,
                "generated_text": llm.detokenize(generated).decode("utf-8", errors="replace"),
                "top2_margins": margins,
                "stopped_at_end_of_generation": stopped_at_eog,
            }
        )
    (OUT / "greedy.json").write_text(
        json.dumps({**common, "max_new_tokens": MAX_NEW_TOKENS, "chat_template": template, "runs": runs}, ensure_ascii=False, indent=1)
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
