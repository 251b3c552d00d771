"""How far llama.cpp's logits move between its own valid ways of running the default model.

The llama.cpp tests (crates/tl-llm/tests/llama_forward.rs) require our top-1 token to agree
with llama.cpp's wherever llama.cpp's top-2 margin exceeds a threshold. This script measures,
with llama.cpp alone, which thresholds two correct runs of the same engine on the same model
can meet: it recomputes the reference prompts of scripts/reference/llamacpp.py under other
settings that llama.cpp offers (the prompt evaluated one token at a time instead of in one
batch, one thread instead of two, its flash-attention kernel, f32 instead of f16 KV cache) and
compares each with the reference setting (one batch of 512, two threads, the setting that
wrote logits.f16 and greedy.json).

For every variant it records, per position, the largest |logit difference| from the reference
setting, whether top-1 agrees, and the reference setting's top-2 margin; for the greedy chat
runs, the first step where the variant's greedy token differs and the reference margin there.
It writes crates/tl-llm/tests/data/llamacpp/self_agreement.json; the tests read from it the
largest margin at which llama.cpp disagrees with itself and how far its logits move.

Result (0.3.36, 2 threads): one token at a time moves logits by up to 0.74 and a greedy run
first differs at a step with margin 0.297; flash attention 1.24 and f32 KV cache 1.38, both
changing top-1 at a position with margin 0.073; one thread changes nothing.

Built and run as scripts/reference/llamacpp.py says (same venv, same llama-cpp-python):
  python scripts/reference/llamacpp_self_agreement.py
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import llama_cpp
from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import CHAT_PROMPTS, LOGIT_PROMPTS, MAX_NEW_TOKENS, MODEL, OUT, chat_formatter  # noqa: E402

REFERENCE = {"n_batch": 512, "n_threads": 2, "flash_attn": False, "one_token_at_a_time": False, "f32_cache": False}
VARIANTS = {
    "one token at a time": {**REFERENCE, "one_token_at_a_time": True},
    "one thread": {**REFERENCE, "n_threads": 1},
    "flash attention": {**REFERENCE, "flash_attn": True},
    "f32 KV cache": {**REFERENCE, "f32_cache": True},
    "batches of 2 tokens": {**REFERENCE, "n_batch": 2},
}


def load(setting):
    extra = {}
    if setting["f32_cache"]:
        extra = {"type_k": llama_cpp.GGML_TYPE_F32, "type_v": llama_cpp.GGML_TYPE_F32}
    return Llama(
        model_path=str(MODEL),
        n_ctx=1024,
        n_batch=setting["n_batch"],
        n_ubatch=setting["n_batch"],
        logits_all=True,
        n_threads=setting["n_threads"],
        n_threads_batch=setting["n_threads"],
        flash_attn=setting["flash_attn"],
        seed=0,
        verbose=False,
        **extra,
    )


def evaluate(llm, setting, ids):
    if setting["one_token_at_a_time"]:
        for token in ids:
            llm.eval([token])
    else:
        llm.eval(ids)


def prompt_logits(llm, setting):
    rows = []
    for text in LOGIT_PROMPTS:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        evaluate(llm, setting, ids)
        rows.extend(np.array(llm.scores[: len(ids)], dtype=np.float32))
    return np.stack(rows)


def chat_prompt_ids(llm):
    formatter, _, _ = chat_formatter(llm)
    prompts = []
    for messages in CHAT_PROMPTS:
        rendered = formatter(messages=messages)
        prompts.append(llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True))
    return prompts


def greedy(llm, setting, ids):
    """Greedy tokens and the top-2 margin at each step, as scripts/reference/llamacpp.py does."""
    eog = {i for i in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(llm._model.vocab, i)}
    llm.reset()
    evaluate(llm, setting, ids)
    tokens, margins = [], []
    for _ in range(MAX_NEW_TOKENS):
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.argsort(row)[-2:][::-1]
        tokens.append(int(top2[0]))
        margins.append(float(row[top2[0]] - row[top2[1]]))
        if tokens[-1] in eog:
            break
        llm.eval([tokens[-1]])
    return tokens, margins


def top2_margin(row):
    top2 = np.sort(row)[-2:]
    return float(top2[1] - top2[0])


def main():
    if not MODEL.is_file():
        sys.exit(f"{MODEL} is missing: run scripts/fetch-model.sh")
    reference_llm = load(REFERENCE)
    reference_logits = prompt_logits(reference_llm, REFERENCE)
    committed = np.fromfile(OUT / "logits.f16", dtype="<f2").astype(np.float32).reshape(reference_logits.shape)
    # logits.f16 holds the reference setting's logits rounded to f16: this run must reproduce them.
    assert np.array_equal(reference_logits.astype("<f2").astype(np.float32), committed), "not the committed reference"
    chats = chat_prompt_ids(reference_llm)
    reference_greedy = [greedy(reference_llm, REFERENCE, ids) for ids in chats]
    committed_greedy = json.loads((OUT / "greedy.json").read_text())["runs"]
    assert [g[0] for g in reference_greedy] == [r["generated_ids"] for r in committed_greedy]
    del reference_llm

    variants = []
    for name, setting in VARIANTS.items():
        llm = load(setting)
        logits = prompt_logits(llm, setting)
        positions = []
        for ours, theirs in zip(logits, reference_logits):
            positions.append(
                {
                    "max_abs_difference": float(np.abs(ours - theirs).max()),
                    "top1_agrees": int(ours.argmax()) == int(theirs.argmax()),
                    "reference_margin": top2_margin(theirs),
                }
            )
        runs = []
        for ids, (want, margins) in zip(chats, reference_greedy):
            got, _ = greedy(llm, setting, ids)
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
            runs.append(
                {
                    "first_differing_step": first,
                    "reference_margin_there": None if first is None else margins[first],
                    "steps_compared": min(len(got), len(want)),
                }
            )
        del llm
        disagreements = [p["reference_margin"] for p in positions if not p["top1_agrees"]]
        disagreements += [r["reference_margin_there"] for r in runs if r["first_differing_step"] is not None]
        variants.append(
            {
                "name": name,
                "setting": setting,
                "worst_max_abs_difference": max(p["max_abs_difference"] for p in positions),
                "top1_agreement": f"{sum(p['top1_agrees'] for p in positions)}/{len(positions)}",
                "largest_margin_where_top1_differs": max(disagreements, default=None),
                "positions": positions,
                "greedy_runs": runs,
            }
        )
        print(
            f"{name:>22}: worst |Δlogit| {variants[-1]['worst_max_abs_difference']:.3f}, "
            f"top-1 {variants[-1]['top1_agreement']}, greedy first differing steps "
            f"{[r['first_differing_step'] for r in runs]}, "
            f"largest reference margin where they differ {variants[-1]['largest_margin_where_top1_differs']}"
        )
    (OUT / "self_agreement.json").write_text(
        json.dumps(
            {
                "llama_cpp_python": llama_cpp.__version__,
                "model": MODEL.name,
                "reference_setting": REFERENCE,
                "variants": variants,
            },
            indent=1,
        )
    )
    print(f"wrote {OUT / 'self_agreement.json'}")


if __name__ == "__main__":
    main()
