"""Rebuild the golden instances and their expected objectives:
python instances/golden/make_golden.py   (run from the repository root)

Expected values come from tests/helpers.brute_force, which enumerates every
matching with the verifier's plain-Python pair table: nothing from the solver.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, "tests")
from helpers import brute_force, op  # noqa: E402

from wopmatch.generator import generate, to_json_bytes  # noqa: E402
from wopmatch.models import parse_instance  # noqa: E402

here = Path(__file__).parent
cases = {
    "budget-free": generate(7, 3, donors=0, seed=11, name="golden: budget-free"),
    "two-donors": generate(7, 3, donors=2, seed=12, tightness=0.8, name="golden: two donors"),
    "pinned-forbidden": {
        "name": "golden: pinned and forbidden",
        "operators": [
            op("M1", mentor={"capacity": 2, "strengths": {"septage": 5, "regulation": 3}}),
            op("M2", region="africa", country="KE", languages=("en", "sw"),
               mentor={"capacity": 1, "strengths": {"non_revenue_water": 4}}),
            op("A", mentee={"needs": {"septage": 4, "non_revenue_water": 2}}),
            op("B", region="africa", country="KE", languages=("sw",), mentee={"needs": {"non_revenue_water": 5}}),
            op("C", mentee={"needs": {"regulation": 5}, "weight": 2.0}),
            op("D", languages=("fr",), mentee={"needs": {"septage": 3}}),
        ],
        "donors": [{"id": "F", "budget": 90_000}],
        "pinned": [{"mentee": "D", "mentor": "M1", "donor": "F"}],
        "forbidden": [{"mentee": "A", "mentor": "M1"}],
    },
    "pinned-overrun": {
        "name": "golden: pinned partnerships overrun a mentor",
        "operators": [
            op("M1", mentor={"capacity": 1, "strengths": {"septage": 5}}),
            op("A", mentee={"needs": {"septage": 4}}),
            op("B", mentee={"needs": {"septage": 4}}),
        ],
        "pinned": [{"mentee": "A", "mentor": "M1"}, {"mentee": "B", "mentor": "M1"}],
    },
}
expected = {}
for name, raw in cases.items():
    (here / f"{name}.json").write_bytes(to_json_bytes(raw))
    best = brute_force(parse_instance(raw))
    expected[name] = None if best is None else {"coverage": best[0], "quality": round(best[1], 9),
                                                "cost": best[2]}
(here / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print(json.dumps(expected, indent=1))
