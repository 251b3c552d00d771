#!/usr/bin/env python3
"""Golden files for the GGUF block formats, written by gguf-py (llama.cpp's own Python
package), an implementation independent of ours.

For Q4_0, Q4_1, Q8_0, Q4_K and Q6_K: random blocks (valid, finite f16 scales of both signs,
plus an all-zero block and subnormal scales) and their values from
`gguf.quants.dequantize`. For Q8_0, Q4_0 and Q4_1: f32 inputs (random, all-zero, constant,
and values on rounding midpoints) and their blocks from `gguf.quants.quantize`, which
reproduces ggml's `quantize_row_*_ref` bit for bit.

Files (little-endian, no headers) under crates/tl-tensor/tests/data/quant/:
    dequantize_<fmt>.blocks   raw blocks
    dequantize_<fmt>.f32      the decoded values, row-major
    quantize_<fmt>.f32        the f32 input, a whole number of 32-blocks
    quantize_<fmt>.blocks     the blocks gguf-py writes for it

Checked by crates/tl-tensor/tests/quant_golden.rs; CI only reads the files.

Regenerate (gguf 0.19.0, numpy 2.4 were used):
    python3 -m venv /tmp/gguf-venv
    /tmp/gguf-venv/bin/pip install gguf==0.19.0 numpy
    /tmp/gguf-venv/bin/python scripts/reference/quant_golden.py
"""

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

OUT = Path(__file__).resolve().parents[2] / "crates" / "tl-tensor" / "tests" / "data" / "quant"

# Byte offsets of the f16 scales inside one block (ggml-common.h).
SCALE_OFFSETS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q8_0: [0],
    T.Q4_K: [0, 2],
    T.Q6_K: [208],
}
# Blocks per dequantize file: a few KiB each.
DEQUANT_BLOCKS = {T.Q4_0: 64, T.Q4_1: 64, T.Q8_0: 64, T.Q4_K: 16, T.Q6_K: 16}
QUANTIZE_BLOCKS = 64


def random_blocks(rng: np.random.Generator, qtype: T, count: int) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(count, type_size), dtype=np.uint8)
    # Scales: magnitudes spread over [2^-10, 2^2), either sign, as f16.
    for offset in SCALE_OFFSETS[qtype]:
        magnitude = np.exp2(rng.uniform(-10.0, 2.0, size=count))
        sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
        scales = (sign * magnitude).astype(np.float16)
        blocks[:, offset : offset + 2] = scales.view(np.uint8).reshape(count, 2)
    # Edge blocks: all zero bytes, and subnormal f16 scales.
    blocks[0, :] = 0
    for offset in SCALE_OFFSETS[qtype]:
        blocks[1, offset : offset + 2] = np.array([3], dtype=np.uint16).view(np.uint8)
    return blocks


def quantize_inputs(rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((QUANTIZE_BLOCKS, 32)).astype(np.float32)
    x[1:8] *= np.exp2(rng.uniform(-12, 12, size=(7, 1))).astype(np.float32)
    x[8] = 0.0
    x[9] = 0.75
    x[10] = -3.0
    # Midpoints: with amax 127 (Q8_0 scale 1) halves tie; integers and halves also land
    # on Q4_0/Q4_1 rounding boundaries for scales that are powers of two.
    x[11] = np.arange(32, dtype=np.float32) - 15.5
    x[11, 0] = 127.0
    x[12] = (np.arange(32, dtype=np.float32) % 16) * 0.5 - 4.0
    x[13] = np.where(np.arange(32) % 2 == 0, 8.0, -8.0).astype(np.float32)
    x[14] = -x[13]
    x[15] = rng.integers(-8, 8, size=32).astype(np.float32) * 0.25
    x[15, 0] = -2.0
    x[16] = rng.uniform(0.0, 1.0, size=32).astype(np.float32)  # all positive
    x[17] = -x[16]
    return x


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250601)
    for qtype in [T.Q4_0, T.Q4_1, T.Q8_0, T.Q4_K, T.Q6_K]:
        name = qtype.name.lower()
        blocks = random_blocks(rng, qtype, DEQUANT_BLOCKS[qtype])
        values = dequantize(blocks, qtype).astype("<f4")
        assert np.isfinite(values).all()
        (OUT / f"dequantize_{name}.blocks").write_bytes(blocks.tobytes())
        (OUT / f"dequantize_{name}.f32").write_bytes(values.tobytes())
    for qtype in [T.Q8_0, T.Q4_0, T.Q4_1]:
        name = qtype.name.lower()
        x = quantize_inputs(rng).astype("<f4")
        blocks = quantize(x, qtype)
        (OUT / f"quantize_{name}.f32").write_bytes(x.tobytes())
        (OUT / f"quantize_{name}.blocks").write_bytes(blocks.tobytes())
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
