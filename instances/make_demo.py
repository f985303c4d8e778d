"""Rebuild instances/demo.json and demo.xlsx: python instances/make_demo.py

An illustrative round: synthetic utilities (not real ones) across Asia-Pacific,
Sub-Saharan Africa, Latin America, MENA and European mentors, four donors, one
partnership carried over (pinned) and one pair the facilitator ruled out.
"""

from pathlib import Path

from wopmatch.generator import generate, to_json_bytes
from wopmatch.models import parse_instance
from wopmatch.models.io import instance_files

raw = generate(46, 18, donors=4, seed=2027, tightness=0.6,
               name="Illustrative WOP round 2027-A (synthetic utilities, not real data)")
inst = parse_instance(raw)
mentees = [op.id for op in inst.operators if op.mentee is not None and op.mentor is None]
mentors = [op.id for op in inst.operators if op.mentor is not None and op.mentor.capacity >= 2]
raw["pinned"] = [{"mentee": mentees[0], "mentor": mentors[0], "donor": raw["donors"][0]["id"]}]
raw["forbidden"] = [{"mentee": mentees[1], "mentor": mentors[1]}]
parse_instance(raw)
Path(__file__).with_name("demo.json").write_bytes(to_json_bytes(raw))
# The same round as the workbook a facilitator fills in (wopmatch template has the same sheets).
Path(__file__).with_name("demo.xlsx").write_bytes(instance_files(parse_instance(raw), "xlsx"))
