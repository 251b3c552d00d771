"""Reference fixpoints for the sparse Datalog engine, computed by clingo (PyPI `clingo`).

Run from this folder:  python3 datalog_reference.py
(clingo is installed into ~/.cache/tensorlogic/venv when missing, and the script re-runs
itself there.)

It writes
- ../../../../examples/ancestor_20k.tl: Ancestor over a random forest of 20,000 people: the
  first 1,000 are founders, every later person's parent is drawn uniformly from the 1,000
  people just before them (seeded);
- datalog_reference.json: for each case, a TensorLogic program, and for each relation
  asked about, clingo's fixpoint: its number of tuples, the SHA-256 of its canonical text
  (tuples as comma-joined names, one per line, sorted as strings, joined by newlines) and,
  when small, the tuples themselves; plus queries and clingo's answers.

The same facts are written once as TensorLogic and once as ASP, so the two engines read the
same data: TensorLogic symbols are capitalised (`P12`), ASP constants lowercase (`p12`).
"""

import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "scripts", "reference"))
from clingo_venv import ensure_clingo  # noqa: E402

ensure_clingo()
import clingo  # noqa: E402

# Full tuple lists are stored up to this many tuples; beyond it, count and hash only.
FULL_LIST_MAX = 3000


def asp_name(symbol):
    return symbol[0].lower() + symbol[1:]


def tl_name(symbol):
    return symbol[0].upper() + symbol[1:]


def canonical(tuples):
    return "\n".join(sorted(",".join(t) for t in tuples))


def facts_text(facts, asp):
    """facts: list of (relation, (symbol, ...)) with TensorLogic names."""
    lines = []
    for relation, args in facts:
        if asp:
            lines.append(f"{asp_name(relation)}({','.join(asp_name(a) for a in args)}).")
        else:
            lines.append(f"{relation}({', '.join(args)}).")
    return "\n".join(lines) + "\n"


def solve(asp_program, shown):
    """clingo's unique model of a positive program, as {relation: set of tuples}."""
    control = clingo.Control(["--warn=none"])
    control.add("base", [], asp_program)
    control.ground([("base", [])])
    found = {relation: set() for relation in shown}
    by_asp = {asp_name(relation): relation for relation in shown}
    models = []

    def on_model(model):
        models.append(1)
        for symbol in model.symbols(atoms=True):
            if symbol.name in by_asp:
                found[by_asp[symbol.name]].add(tuple(tl_name(str(a)) for a in symbol.arguments))

    control.solve(on_model=on_model)
    assert len(models) == 1, "a positive program has exactly one model"
    return found


def summary(tuples):
    text = canonical(tuples)
    entry = {"count": len(tuples), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    if len(tuples) <= FULL_LIST_MAX:
        entry["tuples"] = [list(t) for t in sorted(tuples)]
    return entry


def case(name, tl_rules, asp_rules, facts, relations, queries=()):
    """queries: (TensorLogic atom, ASP rule defining `answer` with the query's variables)."""
    asp = facts_text(facts, asp=True) + asp_rules
    shown = list(relations) + [f"Answer{i}" for i in range(len(queries))]
    for i, (_, asp_query) in enumerate(queries):
        asp += asp_query.replace("answer", f"answer{i}") + "\n"
    model = solve(asp, shown)
    return {
        "name": name,
        "program": tl_rules + facts_text(facts, asp=False),
        "relations": {relation: summary(model[relation]) for relation in relations},
        "queries": [
            {"atom": atom, "answers": sorted(list(t) for t in model[f"Answer{i}"])}
            for i, (atom, _) in enumerate(queries)
        ],
    }


def random_graph(rng, n_nodes, n_edges):
    edges = set()
    while len(edges) < n_edges:
        edges.add((rng.randrange(n_nodes), rng.randrange(n_nodes)))
    return [("Edge", (f"N{a}", f"N{b}")) for a, b in sorted(edges)]


def random_tree(rng, n_people, window):
    """Person i > 0 gets a parent among the `window` people before them."""
    return [
        ("Parent", (f"P{rng.randrange(max(0, i - window), i)}", f"P{i}"))
        for i in range(1, n_people)
    ]


TL_REACH = """Reach(x, y) <- Edge(x, y).
Reach(x, z) <- Reach(x, y), Edge(y, z).
"""
ASP_REACH = """reach(X,Y) :- edge(X,Y).
reach(X,Z) :- reach(X,Y), edge(Y,Z).
"""
TL_REACH_NONLINEAR = """Reach(x, y) <- Edge(x, y).
Reach(x, z) <- Reach(x, y), Reach(y, z).
"""
ASP_REACH_NONLINEAR = """reach(X,Y) :- edge(X,Y).
reach(X,Z) :- reach(X,Y), reach(Y,Z).
"""
TL_SAME_GENERATION = """Sg(x, y) <- Parent(p, x), Parent(p, y).
Sg(x, y) <- Parent(xp, x), Sg(xp, yp), Parent(yp, y).
"""
ASP_SAME_GENERATION = """sg(X,Y) :- parent(P,X), parent(P,Y).
sg(X,Y) :- parent(XP,X), sg(XP,YP), parent(YP,Y).
"""
TL_EVEN_ODD = """Odd(x, y) <- Edge(x, y).
Even(x, z) <- Odd(x, y), Edge(y, z).
Odd(x, z) <- Even(x, y), Edge(y, z).
"""
ASP_EVEN_ODD = """odd(X,Y) :- edge(X,Y).
even(X,Z) :- odd(X,Y), edge(Y,Z).
odd(X,Z) :- even(X,Y), edge(Y,Z).
"""
# Constants, wildcards, a repeated variable, a ternary head, a product and a proposition.
TL_MIXED = """Reach(x, y) <- Edge(x, y).
Reach(x, z) <- Edge(x, y), Reach(y, z).
FromZero(y) <- Reach(N0, y).
HasOut(x) <- Edge(x, _).
OnCycle(x) <- Reach(x, x).
Path2(x, y, z) <- Edge(x, y), Edge(y, z).
Sink(x) <- Edge(_, x).
Pair(x, y) <- OnCycle(x), FromZero(y).
Tagged(x, Hub) <- Edge(x, N1).
Cyclic() <- OnCycle(_).
"""
ASP_MIXED = """reach(X,Y) :- edge(X,Y).
reach(X,Z) :- edge(X,Y), reach(Y,Z).
fromZero(Y) :- reach(n0,Y).
hasOut(X) :- edge(X,_).
onCycle(X) :- reach(X,X).
path2(X,Y,Z) :- edge(X,Y), edge(Y,Z).
sink(X) :- edge(_,X).
pair(X,Y) :- onCycle(X), fromZero(Y).
tagged(X,hub) :- edge(X,n1).
cyclic :- onCycle(_).
"""


def main():
    cases = []

    rng = random.Random(20251122)
    for n_nodes, n_edges in [(30, 40), (200, 260), (2000, 2400)]:
        facts = random_graph(rng, n_nodes, n_edges)
        cases.append(case(f"reachability_{n_nodes}", TL_REACH, ASP_REACH, facts, ["Reach"],
                          [("Reach(N0, y)", "answer(Y) :- reach(n0,Y).")]))
        cases.append(case(f"reachability_nonlinear_{n_nodes}", TL_REACH_NONLINEAR,
                          ASP_REACH_NONLINEAR, facts, ["Reach"],
                          [("Reach(x, N1)", "answer(X) :- reach(X,n1).")]))
    for n_people, window in [(40, 40), (300, 50), (3000, 200)]:
        facts = random_tree(rng, n_people, window)
        cases.append(case(f"same_generation_{n_people}", TL_SAME_GENERATION,
                          ASP_SAME_GENERATION, facts, ["Sg"],
                          [("Sg(P5, y)", "answer(Y) :- sg(p5,Y).")]))
    for n_nodes, n_edges in [(20, 30), (300, 450)]:
        facts = random_graph(rng, n_nodes, n_edges)
        cases.append(case(f"even_odd_{n_nodes}", TL_EVEN_ODD, ASP_EVEN_ODD, facts,
                          ["Even", "Odd"],
                          [("Even(x, x)", "answer(X) :- even(X,X).")]))
    for n_nodes, n_edges in [(12, 14), (60, 70)]:
        facts = random_graph(rng, n_nodes, n_edges)
        cases.append(case(f"mixed_{n_nodes}", TL_MIXED, ASP_MIXED, facts,
                          ["Reach", "FromZero", "HasOut", "OnCycle", "Path2", "Sink", "Pair",
                           "Tagged", "Cyclic"],
                          [("Path2(x, _, x)", "answer(X) :- path2(X,_,X)."),
                           ("Tagged(x, Hub)", "answer(X) :- tagged(X,hub).")]))

    # The 20,000-person Ancestor example.
    rng = random.Random(20000)
    founders = 1000
    facts = [
        ("Parent", (f"P{rng.randrange(i - founders, i)}", f"P{i}"))
        for i in range(founders, 20000)
    ]
    rules = """Ancestor(x, y) <- Parent(x, y).
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).
"""
    header = (
        "// Ancestor over a random forest of 20,000 people: P0..P999 are founders, and each\n"
        "// later person's parent is drawn uniformly from the 1,000 people just before them.\n"
        "// Generated by crates/tl-lang/tests/data/datalog_reference.py; clingo's closure is in\n"
        "// datalog_reference.json beside it. The domain is large, so the relation is sparse.\n"
    )
    query = "Ancestor(x, P19999)?\n"
    example = header + rules + query + facts_text(facts, asp=False)
    with open(os.path.join(HERE, "..", "..", "..", "..", "examples", "ancestor_20k.tl"), "w") as f:
        f.write(example)
    ancestor = case("ancestor_20k", rules, """ancestor(X,Y) :- parent(X,Y).
ancestor(X,Z) :- ancestor(X,Y), parent(Y,Z).
""", facts, ["Ancestor"], [("Ancestor(x, P19999)", "answer(X) :- ancestor(X,p19999).")])
    # The example file is the program; the case keeps only the rules to stay small.
    ancestor["program"] = None
    ancestor["example"] = "examples/ancestor_20k.tl"
    cases.append(ancestor)

    with open(os.path.join(HERE, "datalog_reference.json"), "w") as f:
        json.dump({"generator": "clingo " + clingo.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    for c in cases:
        counts = ", ".join(f"{r} {s['count']}" for r, s in c["relations"].items())
        print(f"{c['name']}: {counts}")


if __name__ == "__main__":
    main()
