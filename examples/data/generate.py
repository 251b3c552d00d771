"""Inputs and expected results for the programs in examples/.

Run from the repository root with the venv that has numpy and clingo:
    python3 -m venv ~/.cache/tensorlogic/lang-venv
    ~/.cache/tensorlogic/lang-venv/bin/pip install numpy clingo networkx
    ~/.cache/tensorlogic/lang-venv/bin/python examples/data/generate.py

Inputs go to examples/data/<example>/*.npy; the expected values of the programs' tensors,
computed here with numpy (and the Datalog answers with clingo), go to
examples/data/expected/<example>/<Tensor>.npy and examples/data/expected/<example>.json.
Nothing here uses TensorLogic's own code.
"""

import json
import os
import re

import clingo
import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(ROOT)
rng = np.random.default_rng(20261122)


def save_inputs(example, **arrays):
    folder = os.path.join(ROOT, example)
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        np.save(os.path.join(folder, name + ".npy"), np.asarray(array, dtype=np.float32))


def save_expected(example, **arrays):
    folder = os.path.join(ROOT, "expected", example)
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        np.save(os.path.join(folder, name + ".npy"), np.asarray(array, dtype=np.float32))


def f32(shape, scale=1.0):
    # Values are rounded to float32 first so that numpy computes on exactly what the
    # program loads.
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(np.float64)


def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis):
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def perceptron():
    x, w, b = f32((16, 8)), f32(8), f32(1)
    w1, b1, w2, b2 = f32((12, 8), 0.5), f32(12, 0.1), f32((3, 12), 0.5), f32(3, 0.1)
    save_inputs("perceptron", x=x, w=w, b=b, w1=w1, b1=b1, w2=w2, b2=b2)
    y = (np.einsum("i,ni->n", w, x) + b[0] > 0).astype(np.float64)
    h = relu(np.einsum("oi,ni->no", w1, x) + b1)
    out = sigmoid(np.einsum("co,no->nc", w2, h) + b2)
    save_expected("perceptron", Y=y, H=h, Out=out)


def attention():
    emb, wq, wk, wv = f32((6, 16)), f32((8, 16), 0.3), f32((8, 16), 0.3), f32((8, 16), 0.3)
    save_inputs("attention", emb=emb, wq=wq, wk=wk, wv=wv)
    query = emb @ wq.T
    key = emb @ wk.T
    val = emb @ wv.T
    comp = softmax(query @ key.T / np.sqrt(8), axis=1)
    attn = comp @ val
    save_expected("attention", Query=query, Key=key, Val=val, Comp=comp, Attn=attn)


def gnn():
    neig = (rng.random((10, 10)) < 0.3).astype(np.float64)
    np.fill_diagonal(neig, 0)
    emb, wself, wagg = f32((10, 6)), f32((5, 6), 0.5), f32((5, 6), 0.5)
    save_inputs("gnn", neig=neig, emb=emb, wself=wself, wagg=wagg)
    agg = neig @ emb
    nxt = relu(emb @ wself.T + agg @ wagg.T)
    save_expected("gnn", Agg=agg, Next=nxt)


def cnn():
    img = f32((8, 8, 2))
    kernels = {name: f32((3, 2), 0.5) for name in ["k00", "k10", "k01", "k11"]}
    dense = f32((2, 4, 4, 3), 0.3)
    save_inputs("cnn", img=img, dense=dense, **kernels)
    padded = np.zeros((9, 9, 2))
    padded[:8, :8] = img
    conv = np.zeros((8, 8, 3))
    for (dx, dy), name in [((0, 0), "k00"), ((1, 0), "k10"), ((0, 1), "k01"), ((1, 1), "k11")]:
        conv += np.einsum("xyi,ci->xyc", padded[dx:dx + 8, dy:dy + 8], kernels[name])
    conv = relu(conv)
    pool = conv.reshape(4, 2, 4, 2, 3).max(axis=(1, 3))
    out = sigmoid(np.einsum("kxyc,xyc->k", dense, pool))
    save_expected("cnn", Conv=conv, Pool=pool, Out=out)


def kernel():
    x, s, a = f32((7, 3)), f32((9, 3)), f32(9, 0.5)
    labels = np.where(rng.random(9) < 0.5, -1.0, 1.0)
    save_inputs("kernel", x=x, s=s, a=a, l=labels)
    dist = ((x[:, None, :] - s[None, :, :]) ** 2).sum(axis=2)
    k = np.exp(-dist / (2 * 0.8 ** 2))
    y = sigmoid(k @ (a * labels) + 0.1)
    save_expected("kernel", Dist=dist, K=k, Y=y)


def program_facts(path, relation):
    text = open(path).read()
    # Facts only: both arguments are constants (capitalised), not rule variables.
    return re.findall(relation + r"\(([A-Z]\w*), ([A-Z]\w*)\)\.", text)


def embedding():
    path = os.path.join(EXAMPLES, "embedding.tl")
    objects = re.search(r"domain Object = \{([^}]*)\}", open(path).read()).group(1)
    objects = [o.strip() for o in objects.split(",")]
    likes = np.zeros((len(objects), len(objects)))
    for a, b in program_facts(path, "Likes"):
        likes[objects.index(a), objects.index(b)] = 1
    emb = f32((len(objects), 32))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb.astype(np.float32).astype(np.float64)
    save_inputs("embedding", emb=emb)
    emb_likes = emb.T @ likes @ emb
    score = emb @ emb_likes @ emb.T
    save_expected(
        "embedding",
        EmbLikes=emb_likes,
        Sim=emb @ emb.T,
        Cold=sigmoid((score - 0.5) / 0.01),
        Warm=sigmoid((score - 0.5) / 0.3),
    )


FAMILY_RULES = """
ancestor(X, Y) :- parent(X, Y).
ancestor(X, Z) :- ancestor(X, Y), parent(Y, Z).
aunt(X, Z) :- sister(X, Y), parent(Y, Z).
greataunt(X, Z) :- aunt(X, Y), ancestor(Y, Z).
"""


def clingo_model(program):
    control = clingo.Control(["--warn=none"])
    control.add("base", [], program)
    control.ground([("base", [])])
    atoms = []
    control.solve(on_model=lambda m: atoms.extend(m.symbols(atoms=True)))
    return atoms


def family():
    path = os.path.join(EXAMPLES, "family.tl")
    facts = []
    for relation in ["Parent", "Sister"]:
        for a, b in program_facts(path, relation):
            facts.append(f'{relation.lower()}("{a}", "{b}").')
    atoms = clingo_model("\n".join(facts) + FAMILY_RULES)
    answers = {}
    for atom in atoms:
        answers.setdefault(atom.name, []).append([arg.string for arg in atom.arguments])
    expected = {
        "Ancestor": sorted(answers.get("ancestor", [])),
        "Aunt": sorted(answers.get("aunt", [])),
        "GreatAunt": sorted(answers.get("greataunt", [])),
    }
    os.makedirs(os.path.join(ROOT, "expected"), exist_ok=True)
    with open(os.path.join(ROOT, "expected", "family.json"), "w") as out:
        json.dump(expected, out, indent=1)


if __name__ == "__main__":
    perceptron()
    attention()
    gnn()
    cnn()
    kernel()
    embedding()
    family()
    print("wrote examples/data")
