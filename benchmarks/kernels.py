"""The compiled kernels against the numpy streams, in the same process (solver/kernels.py).

    python benchmarks/kernels.py [mentees mentors]   # default 20000 5000; appends to kernels.jsonl

Runs greedy, random and stable on mentee streams both ways on one generated
budget-free round (seed 1), checks that they take the same pairs, and records
each time and their ratio (numpy / compiled). Both run in this process, one
after the other, so a busy machine slows both; the ratio is the figure to
compare across machines. The kernels are compiled (or loaded from numba's
cache) on a tiny round first, so compilation is not timed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main(mentees: int = 20_000, mentors: int = 5_000) -> None:
    import numba
    import numpy as np
    from report import provenance, write

    from wopmatch.generator import generate
    from wopmatch.models import parse_instance
    from wopmatch.solver.graph.encoding import build_graph
    from wopmatch.solver.heuristics.greedy import streamed_greedy
    from wopmatch.solver.heuristics.stable import streamed_deferred_acceptance
    from wopmatch.solver.tuning import StreamParams

    params = StreamParams()
    runs = {"greedy": lambda g, k: streamed_greedy(g, "score", params, 0, use_kernels=k),
            "random": lambda g, k: streamed_greedy(g, "random", params, 1, use_kernels=k),
            "stable": lambda g, k: streamed_deferred_acceptance(g, params, use_kernels=k)}
    warm = build_graph(parse_instance(generate(60, 20, seed=1)), candidates=False)
    for run in runs.values():
        run(warm, True)
    g = build_graph(parse_instance(generate(mentees, mentors, seed=1)), candidates=False)
    out = HERE / "kernels.jsonl"
    for policy, run in runs.items():
        seconds = {}
        found = {}
        for compiled in (False, True):
            t = time.perf_counter()
            found[compiled] = run(g, compiled)
            seconds[compiled] = time.perf_counter() - t
        a, b = found[False], found[True]
        if not (np.array_equal(a.mentee, b.mentee) and np.array_equal(a.mentor, b.mentor)):
            raise SystemExit(f"{policy}: the compiled streams took other pairs than the numpy streams")
        rec = {"case": f"{mentees}x{mentors} budget-free", "policy": policy, "numpy_seconds": round(seconds[False], 3),
               "compiled_seconds": round(seconds[True], 3), "ratio": round(seconds[False] / seconds[True], 1),
               "partnerships": len(b.mentee), "refills": b.refills, "eligible": b.eligible, "numba": numba.__version__,
               **provenance()}
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"{policy}: numpy {seconds[False]:.1f} s, compiled {seconds[True]:.1f} s, x{rec['ratio']}", flush=True)
    write()


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:3]))
