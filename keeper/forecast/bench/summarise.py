#!/usr/bin/env python3
"""Summarises compare.sh's TSV: per series and implementation, seconds per epoch (mean and
range), whole-run seconds, test MSE per seed and its mean, median and standard error, and the
load averages seen. Usage: summarise.py OUT.tsv"""

import statistics as st
import sys
from collections import defaultdict


def main():
    runs = defaultdict(list)
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            series, impl, seed, load, spe, total, _first, mse = line.rstrip("\n").split("\t")
            runs[(series, impl)].append((int(seed), float(load), float(spe), float(total), float(mse)))
    for (series, impl), rs in sorted(runs.items()):
        rs.sort()
        spe = [r[2] for r in rs]
        tot = [r[3] for r in rs]
        mse = [r[4] for r in rs]
        load = [r[1] for r in rs]
        se = st.stdev(mse) / len(mse) ** 0.5 if len(mse) > 1 else float("nan")
        print(
            f"{series:9} {impl:5} n={len(rs):2} s/epoch mean {st.mean(spe):.4f} [{min(spe):.4f}-{max(spe):.4f}] "
            f"total mean {st.mean(tot):.2f} [{min(tot):.2f}-{max(tot):.2f}] load {min(load):.2f}-{max(load):.2f}"
        )
        print(
            f"{'':15} test MSE mean {st.mean(mse):.4g} median {st.median(mse):.4g} se {se:.3g}; per seed "
            + " / ".join(f"{m:.4g}" for m in mse)
        )


if __name__ == "__main__":
    main()
