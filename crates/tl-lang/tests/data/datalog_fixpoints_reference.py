"""Random Datalog programs and their fixpoints computed by clingo (and, for reachability,
cross-checked with networkx), for crates/tl-lang/tests/datalog_fixpoints.rs.

Run from the repository root:
    ~/.cache/tensorlogic/lang-venv/bin/python crates/tl-lang/tests/data/datalog_fixpoints_reference.py

Programs: transitive closure (reachability) on random directed graphs, Ancestor on random
forests, and same-generation on random trees. Domains are small enough for dense
relations (at most 60 symbols).
"""

import json
import os

import clingo
import networkx as nx
import numpy as np

rng = np.random.default_rng(11)
HERE = os.path.dirname(os.path.abspath(__file__))


def clingo_relation(facts, rules, relation):
    control = clingo.Control(["--warn=none"])
    control.add("base", [], "\n".join(facts) + "\n" + rules)
    control.ground([("base", [])])
    found = []

    def on_model(model):
        for atom in model.symbols(atoms=True):
            if atom.name == relation:
                found.append([arg.string for arg in atom.arguments])

    control.solve(on_model=on_model)
    return sorted(found)


def reachability(n, p):
    graph = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)), directed=True)
    names = [f"N{v}" for v in range(n)]
    edges = [(names[a], names[b]) for a, b in graph.edges()]
    source = "".join(f"Edge({a}, {b}).\n" for a, b in edges)
    source += "Reach(x, y) <- Edge(x, y).\nReach(x, z) <- Reach(x, y), Edge(y, z).\n"
    facts = [f'edge("{a}", "{b}").' for a, b in edges]
    rules = "reach(X, Y) :- edge(X, Y).\nreach(X, Z) :- reach(X, Y), edge(Y, Z).\n"
    expected = clingo_relation(facts, rules, "reach")
    # networkx agrees: y is reachable from x by a path of at least one edge.
    closure = nx.transitive_closure(graph, reflexive=False)
    assert expected == sorted([names[a], names[b]] for a, b in closure.edges())
    return {"name": f"reach_{n}_{p}", "source": source, "relation": "Reach", "tuples": expected}


def ancestor(n, window):
    names = [f"P{v}" for v in range(n)]
    parents = [(names[int(rng.integers(max(0, c - window), c))], names[c]) for c in range(1, n)]
    source = "".join(f"Parent({a}, {b}).\n" for a, b in parents)
    source += "Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).\n"
    facts = [f'parent("{a}", "{b}").' for a, b in parents]
    rules = "ancestor(X, Y) :- parent(X, Y).\nancestor(X, Z) :- ancestor(X, Y), parent(Y, Z).\n"
    expected = clingo_relation(facts, rules, "ancestor")
    return {"name": f"ancestor_{n}_{window}", "source": source, "relation": "Ancestor", "tuples": expected}


def same_generation(n):
    names = [f"T{v}" for v in range(n)]
    parents = [(names[int(rng.integers(0, c))], names[c]) for c in range(1, n)]
    source = "".join(f"Parent({a}, {b}).\n" for a, b in parents)
    source += "Person(x) <- Parent(x, _).\nPerson(y) <- Parent(_, y).\n"
    source += "SameGen(x, x) <- Person(x).\n"
    source += "SameGen(x, y) <- Parent(p, x), SameGen(p, q), Parent(q, y).\n"
    facts = [f'parent("{a}", "{b}").' for a, b in parents]
    rules = (
        "person(X) :- parent(X, _).\nperson(Y) :- parent(_, Y).\n"
        "samegen(X, X) :- person(X).\n"
        "samegen(X, Y) :- parent(P, X), samegen(P, Q), parent(Q, Y).\n"
    )
    expected = clingo_relation(facts, rules, "samegen")
    return {"name": f"same_generation_{n}", "source": source, "relation": "SameGen", "tuples": expected}


def main():
    cases = []
    for n, p in [(8, 0.2), (15, 0.1), (25, 0.06), (40, 0.04), (60, 0.03), (30, 0.15)]:
        cases.append(reachability(n, p))
    for n, window in [(10, 3), (30, 5), (60, 10)]:
        cases.append(ancestor(n, window))
    for n in [7, 15, 30]:
        cases.append(same_generation(n))
    with open(os.path.join(HERE, "datalog_fixpoints_reference.json"), "w") as out:
        json.dump(cases, out, indent=0)
    print(f"wrote {len(cases)} programs")


if __name__ == "__main__":
    main()
