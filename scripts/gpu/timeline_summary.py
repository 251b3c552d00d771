#!/usr/bin/env python3
"""Summarises kernel timelines written with TL_CUDA_TRACE (crates/tl-cuda/src/kernel_timeline.rs).

Usage: TL_CUDA_TRACE=/tmp/timeline.bin tl bench generate --device cuda ... ;
       python3 scripts/gpu/timeline_summary.py /tmp/timeline.bin

Groups the per-block records into kernel launches, splits them into decode steps at the
widest product (the output head), and prints for each launch of a step, averaged over the
steps the ring still holds, in microseconds: when its blocks start and pass their wait
relative to the previous launch's last exit, the time from the wait to the input being
ready, to the first piece of work done, to the last, the spread of exits, and the launch's
share of a step. Needs numpy.
"""
import sys

import numpy as np

KINDS = {1: "pairs", 2: "pairs gated", 3: "attention", 4: "sample", 5: "float", 6: "float gated"}


def launches(records):
    """Lists of record indices, one per launch, in order of first start."""
    signature = records[:, 6] * 4 + (records[:, 7] & 0xF)
    found = []
    for sig in np.unique(signature):
        idx = np.where(signature == sig)[0]
        idx = idx[np.argsort(records[idx, 0])]
        # Blocks of one launch start within microseconds; launches of one kernel (one per
        # layer) are tens of microseconds apart.
        cuts = np.where(np.diff(records[idx, 0].astype(np.int64)) > 6000)[0] + 1
        found.extend(np.split(idx, cuts))
    found.sort(key=lambda g: records[g, 0].min())
    return found


def main(path):
    raw = np.fromfile(path, dtype="<u8")
    if raw.size == 0 or raw.size % 8:
        sys.exit(f"{path}: no whole 64-byte records")
    records = raw.reshape(-1, 8)
    marks = records[:, :6].astype(np.int64)
    kind = records[:, 7] & 0xF
    n = records[:, 6] & 0xFFFFFFFF
    k = records[:, 6] >> 32
    groups = launches(records)
    widest = max(n[g[0]] for g in groups)
    heads = [i for i, g in enumerate(groups) if n[g[0]] == widest]
    steps = [groups[a + 1:b + 1] for a, b in zip(heads, heads[1:])]
    if len(steps) < 3:
        sys.exit(f"{path}: fewer than three whole decode steps ({len(groups)} launches)")
    steps = steps[1:-1]  # the first and last may be cut by the ring
    step_us = [(marks[s[-1], 5].max() - marks[p[-1], 5].max()) / 1000 for p, s in zip(steps, steps[1:])]
    print(f"{len(records)} records, {len(groups)} launches, {len(steps)} steps; "
          f"step time {np.median(step_us):.1f} us (median)")
    # One row per kind of launch (a layer repeats them), averaged over layers and steps; the
    # step's first two launches have rows of their own: after the output head come the
    # sampler and then the first layer, so their rows show the time between steps (the
    # logits' cast, sampling, the position update, the embedding).
    rows = {}
    for step_index, step in enumerate(steps):
        if step_index == 0:
            continue
        previous = steps[step_index - 1][-1]
        for slot, g in enumerate(step):
            m = marks[g]
            exit_previous = marks[previous, 5].max()
            previous = g
            first_kind = int(kind[g[0]])
            label = "attention" if first_kind == 3 else f"{KINDS.get(first_kind, '?')} {n[g[0]]}x{k[g[0]]}"
            if slot < 2:
                label += (" (step's first)", " (step's second)")[slot]
            row = rows.setdefault(label, {"blocks": len(g)})

            def add(name, value):
                row.setdefault(name, []).append(value / 1000)

            add("start", m[:, 0].mean() - exit_previous)
            add("waited", m[:, 1].min() - exit_previous)
            for name, a, b in [("input", 1, 2), ("first", 2, 3), ("rest", 3, 4)]:
                ok = (m[:, a] > 0) & (m[:, b] > 0)
                if ok.any():
                    add(name, (m[ok, b] - m[ok, a]).mean())
            add("spread", m[:, 5].max() - m[:, 5].min())
            add("wait-exit", m[:, 5].max() - m[:, 1].min())
            add("per step", m[:, 5].max() - exit_previous)
    names = ["start", "waited", "input", "first", "rest", "spread", "wait-exit"]
    print(f"{'launch':<34} {'blocks':>6} {'count':>5} " + " ".join(f"{c:>9}" for c in names + ["us/step"]))
    for label, row in rows.items():
        count = len(row["per step"]) // (len(steps) - 1)
        cells = " ".join(f"{np.mean(row[c]):9.2f}" if c in row else f"{'-':>9}" for c in names)
        per_step = np.sum(row["per step"]) / (len(steps) - 1)
        print(f"{label:<34} {row['blocks']:>6} {count:>5} {cells} {per_step:9.1f}")
    print("(us/step: the launch's share of a step, from the previous launch's last exit to its own)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
