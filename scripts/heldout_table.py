#!/usr/bin/env python3
"""Tables of the held-out parts (examples/heldout) for several models, from `eval --csv` files:

    scripts/heldout_table.py LABEL=FILE.csv [LABEL=FILE.csv ...] [--groups examples/heldout/groups.txt]

Prints a markdown row per part (rel-L2 of each model, the first model's z component and score,
"warned" where its ensemble warned), sorted by group and by the first model's error, then the mean
of each group and of all parts (with the median), so that sessions compare models on the same
parts the same way. Parts missing from a file are left blank there and out of its means."""
import argparse
import csv
import os
import statistics
import sys


def read_eval(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows[os.path.splitext(os.path.basename(r["source"]))[0]] = r
    return rows


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("evals", nargs="+", help="LABEL=eval.csv")
    ap.add_argument("--groups", default=os.path.join(here, "..", "examples", "heldout", "groups.txt"))
    a = ap.parse_args()
    groups = {}
    with open(a.groups) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                part, group = line.split(maxsplit=1)
                groups[part] = group.strip()
    models = []
    for e in a.evals:
        label, sep, path = e.partition("=")
        if not sep:
            sys.exit(f"heldout_table: expected LABEL=FILE.csv, got '{e}'")
        models.append((label, read_eval(path)))
    first = models[0][1]
    order = list(dict.fromkeys(groups.values()))
    parts = sorted(groups, key=lambda p: (order.index(groups[p]),
                                          float(first[p]["rel_l2"]) if p in first else 1e9))

    def err(rows, p):
        return float(rows[p]["rel_l2"]) if p in rows else None

    labels = [m[0] for m in models]
    print("| part | group | " + " | ".join(labels) + f" | z ({labels[0]}) | score ({labels[0]}) |")
    print("|---" * (len(labels) + 4) + "|")
    for p in parts:
        cells = [f"{err(r, p):.3f}" if err(r, p) is not None else "" for _, r in models]
        z = score = ""
        if p in first:
            z = f"{float(first[p]['rel_l2_displacement_z']):.3f}"
            s = first[p].get("uncertainty_score", "")
            if s not in ("", "nan"):
                score = f"{float(s):.3f}" + (" (warned)" if first[p].get("warned") == "1" else "")
        print(f"| {p} | {groups[p]} | " + " | ".join(cells) + f" | {z} | {score} |")
    print()
    print("| group | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for g in order + ["all"]:
        members = [p for p in parts if g == "all" or groups[p] == g]
        cells = []
        for _, r in models:
            v = [err(r, p) for p in members if p in r]
            cell = f"{statistics.mean(v):.3f}" if v else ""
            if g == "all" and v:
                cell = f"**{cell}** (median {statistics.median(v):.3f})"
            cells.append(cell)
        print(f"| {g} ({len(members)}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
