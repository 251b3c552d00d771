"""A small GGUF file written by gguf-py (llama.cpp's own writer) and the values its
tensors hold, for the `load("….gguf", name)` test in crates/tl-lang/tests/files.rs.

Run from the repository root:
    ~/.cache/tensorlogic/lang-venv/bin/pip install numpy gguf
    ~/.cache/tensorlogic/lang-venv/bin/python crates/tl-lang/tests/data/gguf_reference.py

Writes tests/data/small.gguf (an F32 matrix, an F16 vector and a Q8_0 matrix) and
tests/data/small_gguf_<tensor>.npy with what gguf-py dequantizes them to.
"""

import os

import gguf
import numpy as np
from gguf import quants

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(5)

weight = rng.standard_normal((3, 4)).astype(np.float32)
bias = rng.standard_normal(4).astype(np.float16)
block = rng.standard_normal((2, 32)).astype(np.float32)
block_q8 = quants.quantize(block, gguf.GGMLQuantizationType.Q8_0)

writer = gguf.GGUFWriter(os.path.join(HERE, "small.gguf"), "test")
writer.add_tensor("blk.0.weight", weight)
writer.add_tensor("blk.0.bias", bias)
writer.add_tensor("blk.0.q8", block_q8, raw_shape=block_q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

expected = {
    "weight": weight,
    "bias": bias.astype(np.float32),
    "q8": quants.dequantize(block_q8, gguf.GGMLQuantizationType.Q8_0).astype(np.float32),
}
for name, values in expected.items():
    np.save(os.path.join(HERE, f"small_gguf_{name}.npy"), values)
print("wrote small.gguf")
