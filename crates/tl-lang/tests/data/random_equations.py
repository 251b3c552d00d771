"""Random tensor equations and their values computed by numpy.einsum, for
crates/tl-lang/tests/random_equations.rs.

Run from the repository root:
    ~/.cache/tensorlogic/lang-venv/bin/python crates/tl-lang/tests/data/random_equations.py

Each case is a whole program: its input tensors as literals, then one equation defining
`Y` with a random index pattern (joins of 1-3 factors, diagonals, outer products, sums
over any subset of the indices), a random projection (`=`, `max=`, `min=`, `avg=`) and
sometimes a nonlinearity, a scale and a bias, or a softmax along a dotted axis. The
expected `Y` comes from numpy alone.
"""

import json
import os
import string

import numpy as np

rng = np.random.default_rng(3)
HERE = os.path.dirname(os.path.abspath(__file__))
INDEX_NAMES = ["i", "j", "k", "l", "m", "n"]
TENSOR_NAMES = ["A", "B", "D"]
FUNCTIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "abs": np.abs,
    "square": np.square,
    "exp": np.exp,
}


def literal(array):
    if array.ndim == 0:
        return repr(float(array))
    if array.ndim == 1:
        return "[" + ", ".join(f"{v:g}" for v in array) + "]"
    return "[" + ", ".join(literal(row) for row in array) + "]"


def random_case(kind):
    sizes = {name: int(rng.integers(1, 5)) for name in INDEX_NAMES}
    pool = list(rng.choice(INDEX_NAMES, size=int(rng.integers(2, 5)), replace=False))
    factors = []
    for t in range(int(rng.integers(1, 4))):
        rank = int(rng.integers(1, 4))
        indices = [str(rng.choice(pool)) for _ in range(rank)]
        # Mostly distinct indices; a repeat now and then takes a diagonal.
        if rng.random() < 0.85:
            indices = list(dict.fromkeys(indices))
        factors.append((TENSOR_NAMES[t], indices))
    used = list(dict.fromkeys(i for _, idx in factors for i in idx))
    lhs = [i for i in used if rng.random() < 0.5]
    rng.shuffle(lhs)
    if kind == "softmax" and not lhs:
        lhs = [used[0]]
    arrays = {}
    for name, indices in factors:
        arrays[name] = np.round(rng.uniform(-1, 1, [sizes[i] for i in indices]), 2)
    join = " ".join(f"{name}[{', '.join(idx)}]" for name, idx in factors)
    spec = ",".join("".join(idx) for _, idx in factors)
    operands = [arrays[name] for name, _ in factors]
    lhs_text = f"Y[{', '.join(lhs)}]" if lhs else "Y"
    summed = np.einsum(spec + "->" + "".join(lhs), *operands)
    if kind == "sum":
        equation, y = f"{lhs_text} = {join}", summed
    elif kind == "function":
        name = str(rng.choice(list(FUNCTIONS)))
        equation, y = f"{lhs_text} = {name}({join})", FUNCTIONS[name](summed)
    elif kind in ("max", "min", "avg"):
        full = np.einsum(spec + "->" + "".join(used), *operands)
        axes = tuple(k for k, i in enumerate(used) if i not in lhs)
        reduce = {"max": np.max, "min": np.min, "avg": np.mean}[kind]
        projected = reduce(full, axis=axes) if axes else full
        # `projected` has the kept indices in `used` order; put them in `lhs` order.
        kept = [i for i in used if i in lhs]
        y = np.transpose(projected, [kept.index(i) for i in lhs]) if lhs else projected
        equation = f"{lhs_text} {kind}= {join}"
    elif kind == "affine":
        scale = float(np.round(rng.uniform(-2, 2), 2))
        if lhs:
            arrays["C"] = np.round(rng.uniform(-1, 1, [sizes[i] for i in lhs]), 2)
            equation = f"{lhs_text} = {scale:g} * {join} + C[{', '.join(lhs)}]"
            y = scale * summed + arrays["C"]
        else:
            equation = f"{lhs_text} = {scale:g} * {join} - 0.5"
            y = scale * summed - 0.5
    elif kind == "softmax":
        axis = int(rng.integers(0, len(lhs)))
        dotted = [i + ("." if k == axis else "") for k, i in enumerate(lhs)]
        equation = f"Y[{', '.join(dotted)}] = softmax({join})"
        shifted = np.exp(summed - summed.max(axis=axis, keepdims=True))
        y = shifted / shifted.sum(axis=axis, keepdims=True)
    else:
        raise ValueError(kind)
    source = "".join(f"{name} = {literal(array)}\n" for name, array in arrays.items())
    source += equation + "\n"
    y = np.asarray(y, dtype=np.float64)
    return {
        "kind": kind,
        "source": source,
        "shape": list(y.shape),
        "values": [float(v) for v in y.reshape(-1)],
    }


def main():
    kinds = ["sum"] * 80 + ["function"] * 50 + ["max"] * 25 + ["min"] * 15
    kinds += ["avg"] * 25 + ["affine"] * 35 + ["softmax"] * 20
    cases = [random_case(kind) for kind in kinds]
    with open(os.path.join(HERE, "random_equations.json"), "w") as out:
        json.dump(cases, out, indent=0)
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
