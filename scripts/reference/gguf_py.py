"""The default model's GGUF structure as gguf-py (llama.cpp's own Python reader) sees it.

Writes crates/tl-llm/tests/data/gguf_py/default_model.json: version, alignment, data offset,
every tensor (name, dims fastest-first as GGUF lists them, ggml type, absolute file offset,
byte size), every scalar metadata value, and for arrays their element type, length, first
and last elements.

Run:
  . .venv/bin/activate && pip install gguf==0.19.0 numpy
  scripts/fetch-model.sh && python scripts/reference/gguf_py.py
"""

import json
import os
from pathlib import Path

from gguf import GGUFReader, GGUFValueType

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "gguf_py" / "default_model.json"
MODEL = Path(os.environ.get("TL_HOME", Path.home() / ".cache" / "tensorlogic")) / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def plain(v):
    if hasattr(v, "item"):
        return v.item()
    return v


def main():
    reader = GGUFReader(str(MODEL))
    metadata = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            values = field.contents()
            metadata[key] = {
                "type": "array",
                "element_type": field.types[-1].name.lower(),
                "len": len(values),
                "first": [plain(v) for v in values[:3]],
                "last": [plain(v) for v in values[-3:]],
            }
        else:
            metadata[key] = {"type": kind.name.lower(), "value": plain(field.contents())}
    tensors = [
        {
            "name": t.name,
            "dims": [int(d) for d in t.shape],
            "ggml_type": int(t.tensor_type),
            "offset": int(t.data_offset),
            "n_bytes": int(t.n_bytes),
        }
        for t in reader.tensors
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "version": int(reader.fields["GGUF.version"].contents()),
                "alignment": int(reader.alignment),
                "data_offset": int(reader.data_offset),
                "metadata": metadata,
                "tensors": tensors,
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
