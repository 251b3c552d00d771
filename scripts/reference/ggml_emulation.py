"""An independent numpy emulation of llama.cpp's CPU arithmetic on the default model, to
measure how far a faithful re-implementation of ggml's rounding lands from llama.cpp itself.

It runs the first reference prompt ("The capital of France is") through the model with
ggml's recipe: Q8_1 activation blocks for Q4_1 weights (d = amax/127 stored as f16,
q = round-half-even(x * 127/amax), s = f16(d * sum q), dot = d_w*d*sum(q_w*q) + m*s),
Q8_0 blocks for the Q8_0 output head, keys/values/queries and attention weights in f16,
RoPE with ggml's iterated theta, RMSNorm summed in double. It prints the largest logit
difference from llama.cpp's logits (crates/tl-llm/tests/data/llamacpp/logits.f16) at each
position. Result (0.3.36): 0.23 at position 0, then 0.59, 0.83, 0.74, 0.85 — the same
size as our own engine's differences; the same emulation summing the dot products in f64
instead of f32 gave 0.24, 0.48, 0.59, 0.68, 0.71. 8-bit blocks dominated by outlier channels
make the forward pass discontinuous at the scale of f32 rounding
(see crates/tl-llm/tests/llama_forward.rs).

Run (gguf-py and numpy; a minute):
  pip install gguf==0.19.0 numpy && scripts/fetch-model.sh
  python scripts/reference/ggml_emulation.py
"""

import os
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parents[2]
LOGITS = ROOT / "crates" / "tl-llm" / "tests" / "data" / "llamacpp" / "logits.f16"
MODEL = Path(os.environ.get("TL_HOME", Path.home() / ".cache" / "tensorlogic")) / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = [504, 3575, 282, 4649, 314]
N_LAYERS, N_HEADS, N_KV_HEADS, HEAD_DIM, ROPE_BASE, EPS = 30, 9, 3, 64, 100000.0, 1e-5

reader = GGUFReader(str(MODEL))
TENSORS = {t.name: t for t in reader.tensors}
Q = gguf.GGMLQuantizationType


def f16(a):
    return a.astype(np.float16).astype(np.float32)


def f32_tensor(name):
    t = TENSORS[name]
    return dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])


def blocks(name, size):
    raw = np.array(TENSORS[name].data, dtype=np.uint8)
    return raw.reshape(raw.shape[0], -1, size)


def q4_1_parts(name):
    b = blocks(name, 20)
    d = b[:, :, 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = b[:, :, 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = b[:, :, 4:20]
    return d, m, np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.int32)


def q8_0_parts(name):
    b = blocks(name, 34)
    d = b[:, :, 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    return d, b[:, :, 2:34].copy().view(np.int8).astype(np.int32)


def quantize_q8_1(x):
    xb = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(xb).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    inverse = np.where(amax != 0, np.float32(127) / np.where(amax != 0, amax, 1), 0).astype(np.float32)
    q = np.rint(xb * inverse[:, None]).astype(np.int32)
    return f16(d), q, f16(d * q.sum(axis=1).astype(np.float32))


PARTS = {}


def matvec(name, x):
    kind = TENSORS[name].tensor_type
    if name not in PARTS:
        PARTS[name] = q4_1_parts(name) if kind == Q.Q4_1 else q8_0_parts(name)
    xd, xq, xs = quantize_q8_1(x)
    if kind == Q.Q4_1:
        d, m, q = PARTS[name]
        dots = np.einsum("rbj,bj->rb", q, xq).astype(np.float32)
        return ((d * xd[None, :]) * dots + m * xs[None, :]).sum(axis=1, dtype=np.float32)
    d, q = PARTS[name]
    dots = np.einsum("rbj,bj->rb", q, xq).astype(np.float32)
    return ((d * xd[None, :]) * dots).sum(axis=1, dtype=np.float32)


def rms_norm(x, weight):
    mean = (x.astype(np.float64) ** 2).mean()
    return (x * np.float32(1.0 / np.sqrt(mean + EPS))).astype(np.float32) * weight


def rope(x):
    """ggml's NORM rope (adjacent pairs) at positions 0..n, theta multiplied up in f32."""
    out = x.copy()
    theta_scale = np.float32(ROPE_BASE) ** np.float32(-2.0 / HEAD_DIM)
    for p in range(x.shape[0]):
        theta = np.float32(p)
        for i in range(HEAD_DIM // 2):
            c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
            a, b = x[p, :, 2 * i], x[p, :, 2 * i + 1]
            out[p, :, 2 * i] = a * c - b * s
            out[p, :, 2 * i + 1] = a * s + b * c
            theta = np.float32(theta * theta_scale)
    return out


def rows(name, xs):
    return np.stack([matvec(name, x) for x in xs])


def forward(tokens):
    n = len(tokens)
    d, q = q8_0_parts("token_embd.weight")
    x = np.stack([(d[t][:, None] * q[t]).reshape(-1).astype(np.float32) for t in tokens])
    group = N_HEADS // N_KV_HEADS
    for layer in range(N_LAYERS):
        p = f"blk.{layer}."
        h = np.stack([rms_norm(r, f32_tensor(p + "attn_norm.weight")) for r in x])
        queries = f16(rope(rows(p + "attn_q.weight", h).reshape(n, N_HEADS, HEAD_DIM)))
        keys = f16(rope(rows(p + "attn_k.weight", h).reshape(n, N_KV_HEADS, HEAD_DIM)))
        values = f16(rows(p + "attn_v.weight", h).reshape(n, N_KV_HEADS, HEAD_DIM))
        attended = np.zeros((n, N_HEADS, HEAD_DIM), np.float32)
        for head in range(N_HEADS):
            kv = head // group
            scores = (queries[:, head] @ keys[:, kv].T) * np.float32(1 / np.sqrt(HEAD_DIM))
            scores = scores + np.triu(np.full((n, n), -np.inf, np.float32), 1)
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            weights = f16((e / e.sum(axis=1, keepdims=True)).astype(np.float32))
            attended[:, head] = weights @ values[:, kv]
        x = x + rows(p + "attn_output.weight", attended.reshape(n, -1))
        h = np.stack([rms_norm(r, f32_tensor(p + "ffn_norm.weight")) for r in x])
        gate, up = rows(p + "ffn_gate.weight", h), rows(p + "ffn_up.weight", h)
        x = x + rows(p + "ffn_down.weight", (gate / (1 + np.exp(-gate)) * up).astype(np.float32))
    norm = f32_tensor("output_norm.weight")
    return np.stack([matvec("token_embd.weight", rms_norm(r, norm)) for r in x])


def main():
    logits = forward(PROMPT)
    reference = np.fromfile(LOGITS, dtype="<f2")[: logits.size].astype(np.float32).reshape(logits.shape)
    for position in range(len(PROMPT)):
        diff = logits[position] - reference[position]
        print(f"position {position}: max |emulation - llama.cpp| {np.abs(diff).max():.3f}, mean {diff.mean():+.3f}")


if __name__ == "__main__":
    main()
