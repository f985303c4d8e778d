"""The vectorised encoder agrees with the verifier's plain-Python recomputation."""

from __future__ import annotations

import numpy as np
from helpers import parse, tiny_instances
from hypothesis import given

from wopmatch.generator import generate
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.verify import independent_pair_table


def _compare(inst, block_pairs=1 << 21):
    g = build_graph(inst, block_pairs=block_pairs)
    table = independent_pair_table(inst)
    pinned = {p.mentee for p in inst.pinned}
    expect = {}
    for (me, mo), t in table.items():
        usable = t["failed"] is None and (not inst.donors or t["fundable"])
        if usable and me not in pinned:
            expect[(me, mo)] = t
    got = {(g.mentee_id(int(i)), g.mentor_id(int(j))): e
           for e, (i, j) in enumerate(zip(g.pair_mentee, g.pair_mentor, strict=True))}
    assert set(got) == set(expect)
    for key, e in got.items():
        t = expect[key]
        assert abs(g.score[e] - t["score"]) < 1e-12
        assert g.cost[e] == t["cost"]
        assert g.focus_names(int(g.focus[e])) == t["focus"]
        assert [g.donor_ids[d] for d in np.flatnonzero(g.fundable[e])] == t["fundable"]
    return g


@given(tiny_instances())
def test_encoder_matches_independent_recomputation(raw):
    _compare(parse(raw))


def test_encoder_on_generated_instance_and_block_size_does_not_matter():
    inst = parse(generate(60, 20, donors=3, seed=5))
    a = _compare(inst)
    b = build_graph(inst, block_pairs=7)  # many tiny blocks
    assert a.n_candidates > 100
    for field in ("pair_mentee", "pair_mentor", "score", "cost", "focus", "fundable"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def test_id_maps_round_trip():
    inst = parse(generate(30, 10, donors=2, seed=2))
    g = build_graph(inst)
    for e in range(g.n_candidates):
        mentee, mentor = g.mentee_id(int(g.pair_mentee[e])), g.mentor_id(int(g.pair_mentor[e]))
        assert g.candidate(mentee, mentor) == e
    assert g.candidate("nobody", g.mentor_id(0)) == -1
    not_candidate = next((a, b) for a in g.mentee_index for b in g.mentor_index
                         if (g.mentee_index[a], g.mentor_index[b]) not in set(zip(g.pair_mentee.tolist(),
                                                                                  g.pair_mentor.tolist(),
                                                                                  strict=True)))
    assert g.candidate(*not_candidate) == -1


def test_pair_list_gives_the_block_quantities_bit_for_bit():
    inst = parse(generate(60, 25, donors=2, seed=5))
    g = build_graph(inst, candidates=False)
    rows = np.arange(g.n_mentees)
    block = g.pair_block(rows)
    rng = np.random.default_rng(0)
    i = rng.integers(0, g.n_mentees, 500)
    j = rng.integers(0, g.n_mentors, 500)
    pl = g.pair_list(i, j)
    for field in ("not_self", "focus", "shared_language", "same_region", "distance", "score", "cost", "forbidden"):
        assert np.array_equal(getattr(pl, field), getattr(block, field)[i, j]), field
