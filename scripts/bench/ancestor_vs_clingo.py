"""The 20,000-person Ancestor closure: TensorLogic's sparse Datalog engine against clingo,
on the same facts (examples/ancestor_20k.tl), same machine.

TensorLogic runs as `cargo bench -p tl-lang --bench ancestor`, which prints the median of
several runs; clingo (PyPI, installed into ~/.cache/tensorlogic/venv when missing) runs
in-process through its Python API on the same facts written as ASP, also median of several
runs. Both are reported as "read" (parse the program and load the facts) and "closure"
(TensorLogic's fixpoint; clingo's grounding, which computes the closure of a positive
program, plus its solve), and the ratio clingo / TensorLogic. Usage, from the repository
root:

    python3 scripts/bench/ancestor_vs_clingo.py [--runs 5] [--file examples/ancestor_20k.tl]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from clingo_venv import ensure_clingo  # noqa: E402

ensure_clingo()
import clingo  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=5)
parser.add_argument("--file", default="examples/ancestor_20k.tl")
args = parser.parse_args()

# The same facts for clingo: every `Parent(A, B).` line of the program, constants
# lowercased; the rules are the program's two Ancestor rules written in ASP.
with open(args.file) as f:
    source = f.read()
pairs = re.findall(r"^Parent\((\w+), (\w+)\)\.$", source, flags=re.M)
if not pairs:
    sys.exit(f"{args.file}: no Parent facts")
asp = "".join(f"parent({a.lower()},{b.lower()}).\n" for a, b in pairs)
asp += "ancestor(X,Y) :- parent(X,Y).\nancestor(X,Z) :- ancestor(X,Y), parent(Y,Z).\n"


def clingo_run():
    start = time.perf_counter()
    control = clingo.Control(["--warn=none"])
    control.add("base", [], asp)
    read = time.perf_counter() - start
    start = time.perf_counter()
    control.ground([("base", [])])
    count = 0

    def on_model(model):
        nonlocal count
        count = sum(1 for s in model.symbols(atoms=True) if s.name == "ancestor")

    control.solve(on_model=on_model)
    closure = time.perf_counter() - start
    return read, closure, count


clingo_runs = [clingo_run() for _ in range(args.runs)]
clingo_read = statistics.median(r[0] for r in clingo_runs)
clingo_closure = statistics.median(r[1] for r in clingo_runs)
clingo_pairs = clingo_runs[0][2]

output = subprocess.run(
    ["cargo", "bench", "-q", "-p", "tl-lang", "--bench", "ancestor", "--",
     os.path.abspath(args.file), str(args.runs)],
    check=True, capture_output=True, text=True,
).stdout
print(output.rstrip())
result = re.search(r"RESULT pairs=(\d+) read_seconds=([\d.]+) fixpoint_seconds=([\d.]+)", output)
if not result:
    sys.exit("no RESULT line from the ancestor bench")
ours_pairs = int(result.group(1))
ours_read = float(result.group(2))
ours_closure = float(result.group(3))

print(f"facts: {len(pairs)} Parent pairs; closure: TensorLogic {ours_pairs} pairs, clingo {clingo_pairs}")
if ours_pairs != clingo_pairs:
    sys.exit("the two closures differ in size")
print(f"{'':12}{'TensorLogic':>14}{'clingo ' + clingo.__version__:>16}{'clingo/TL':>12}")
for label, ours, theirs in [("read", ours_read, clingo_read),
                            ("closure", ours_closure, clingo_closure),
                            ("total", ours_read + ours_closure, clingo_read + clingo_closure)]:
    print(f"{label:12}{ours * 1e3:>11.1f} ms{theirs * 1e3:>13.1f} ms{theirs / ours:>11.2f}x")
