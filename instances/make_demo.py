"""Rebuild instances/demo.json and demo.xlsx: python instances/make_demo.py

An illustrative round: synthetic utilities (not real ones) across Asia-Pacific,
Sub-Saharan Africa, Latin America, MENA and European mentors, four donors, one
partnership carried over (pinned) and one pair the facilitator ruled out. Partnerships
start in March 2027; two mentees in three state current indicator values for their priority
needs (the plans' baselines) and the utilities state what they give in kind; none of this
changes the match.
"""

import random
from pathlib import Path

from wopmatch.generator import generate, to_json_bytes
from wopmatch.models import parse_instance
from wopmatch.models.io import instance_files
from wopmatch.models.outcomes import area_of

raw = generate(46, 18, donors=4, seed=2027, tightness=0.6,
               name="Illustrative WOP round 2027-A (synthetic utilities, not real data)")
inst = parse_instance(raw)
mentees = [op.id for op in inst.operators if op.mentee is not None and op.mentor is None]
mentors = [op.id for op in inst.operators if op.mentor is not None and op.mentor.capacity >= 2]
raw["pinned"] = [{"mentee": mentees[0], "mentor": mentors[0], "donor": raw["donors"][0]["id"]}]
raw["forbidden"] = [{"mentee": mentees[1], "mentor": mentors[1]}]
raw["start"] = "2027-03"
rng = random.Random(2027)  # its own draws: the round above is generate()'s
for op in raw["operators"]:
    op["in_kind"] = rng.randrange(20, 61) * 1000 if "mentor" in op else rng.randrange(5, 21) * 1000
    needs = op.get("mentee", {}).get("needs", {})
    if needs and rng.random() < 2 / 3:
        op["indicators"] = {ind.id: round(min(ind.high, max(ind.low, ind.baseline * rng.uniform(0.7, 1.3))), 1)
                            for area, level in needs.items() if level >= raw["costs"].get("priority_need", 3)
                            for ind in area_of(area).indicators}
parse_instance(raw)
Path(__file__).with_name("demo.json").write_bytes(to_json_bytes(raw))
# The same round as the workbook a facilitator fills in (wopmatch template has the same sheets).
Path(__file__).with_name("demo.xlsx").write_bytes(instance_files(parse_instance(raw), "xlsx"))
