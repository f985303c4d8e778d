"""The compiled kernels (solver/kernels.py) give exactly the numpy code's answers."""

from __future__ import annotations

import random

import numpy as np
import pytest
from helpers import parse, solve_checked, tiny_instances
from hypothesis import given, settings
from hypothesis import strategies as st

from wopmatch.generator import generate
from wopmatch.solver.graph import kernels
from wopmatch.solver.graph.encoding import build_graph
from wopmatch.solver.graph.streams import random_keys
from wopmatch.solver.heuristics.greedy import streamed_greedy
from wopmatch.solver.heuristics.stable import streamed_deferred_acceptance
from wopmatch.solver.postsolve.metrics import blocking_pairs
from wopmatch.solver.tuning import StreamParams


def _budget_free(raw: dict) -> dict:
    """Where the kernels apply: no donors, no distance rule."""
    raw.pop("donors", None)
    raw["rules"]["max_distance_km"] = None
    for p in raw.get("pinned", []):
        p.pop("donor", None)
    return raw


def _assert_same_streams(g, chunk: int) -> None:
    for order in ("score", "random"):
        a = streamed_greedy(g, order, StreamParams(chunk=chunk), 3, use_kernels=True)
        b = streamed_greedy(g, order, StreamParams(chunk=chunk), 3, use_kernels=False)
        assert a.mentee.tolist() == b.mentee.tolist() and a.mentor.tolist() == b.mentor.tolist(), order
        assert (a.eligible, a.refills) == (b.eligible, b.refills), order
    a = streamed_deferred_acceptance(g, StreamParams(chunk=chunk), use_kernels=True)
    b = streamed_deferred_acceptance(g, StreamParams(chunk=chunk), use_kernels=False)
    assert a.mentee.tolist() == b.mentee.tolist() and a.mentor.tolist() == b.mentor.tolist()
    assert (a.eligible, a.refills) == (b.eligible, b.refills)


@settings(max_examples=60)
@given(raw=tiny_instances(max_ops=8, donors=False), chunk=st.sampled_from([1, 2, 32]))
def test_compiled_streams_take_the_numpy_streams_pairs(raw, chunk):
    g = build_graph(parse(_budget_free(raw)), candidates=False)
    if not g.infeasible:
        _assert_same_streams(g, chunk)


def _medium(seed: int, languages: int = 0) -> dict:
    """generate()'s round with forbidden and pinned pairs, and optionally ``languages``
    extra language codes (past 64, the language masks take a second word)."""
    raw = generate(300, 60, seed=seed)
    rng = random.Random(seed)
    mentees = [o["id"] for o in raw["operators"] if "mentee" in o]
    mentors = [o["id"] for o in raw["operators"] if "mentor" in o]
    pairs = sorted({(rng.choice(mentees), rng.choice(mentors)) for _ in range(400)})
    raw["forbidden"] = [{"mentee": a, "mentor": b} for a, b in pairs if a != b]
    taken = {a for a, _ in pairs}
    raw["pinned"] = [{"mentee": a, "mentor": mentors[k]} for k, a in enumerate(m for m in mentees if m not in taken)
                     if k < 3]
    codes = _iso_languages(languages)  # real ISO 639 codes: the instance checks them
    for o in raw["operators"]:
        o["languages"] = sorted(set(o["languages"]) | {codes[rng.randrange(languages)] for _ in range(2)}) \
            if languages else o["languages"]
    return raw


def _iso_languages(n: int) -> list[str]:
    import pycountry

    return sorted(getattr(lang, "alpha_2", None) or lang.alpha_3 for lang in pycountry.languages)[:n]


@pytest.mark.parametrize("languages", [0, 90])
@pytest.mark.parametrize("chunk", [1, 5])
def test_compiled_streams_with_forbidden_and_pinned_pairs_and_many_languages(languages, chunk):
    raw = _medium(41, languages)
    raw["rules"] = {"region": "same"} if languages else {"min_score": 0.3, "cross_region_penalty": 0.25}
    g = build_graph(parse(raw), candidates=False)
    assert len(g.forbidden_mentee) > 300 and not g.free_mentee.all()
    assert g.mentees.lang.shape[1] == (2 if languages else 1)
    _assert_same_streams(g, chunk)


@settings(max_examples=40)
@given(raw=tiny_instances(max_ops=8), policy=st.sampled_from(["optimal", "greedy", "random"]))
def test_compiled_blocking_pair_count_is_the_numpy_count(raw, policy):
    raw["rules"]["max_distance_km"] = None
    inst = parse(raw)
    g = build_graph(inst, candidates=False)
    s = solve_checked(inst, policy)
    if s.status != "infeasible":
        assert blocking_pairs(g, s, compiled=True) == blocking_pairs(g, s, compiled=False)


def test_compiled_blocking_pair_count_on_a_medium_instance():
    inst = parse(_medium(43))
    g = build_graph(inst, candidates=False)
    for policy in ("greedy", "random"):
        s = solve_checked(inst, policy, seed=2)
        count = blocking_pairs(g, s, compiled=True)
        assert count > 0 and count == blocking_pairs(g, s, compiled=False)


@pytest.mark.parametrize("chunk", [1, 5])
def test_compiled_streams_counts_and_explanations_with_stated_interests(chunk):
    """Interests change scores (the interest term), eligibility (vetoes) and the stable
    policy's preferences: the kernels must follow all three as the numpy code does."""
    raw = generate(300, 60, seed=45, interests=4)
    raw["rules"] = {"min_score": 0.45, "interest_weight": 0.5}
    mentors = [o["id"] for o in raw["operators"] if "mentor" in o]
    for o in [o for o in raw["operators"] if "mentee" in o and "mentor" not in o][:3]:  # vetoes every mentor
        o["interests"] = [{"operator": x, "level": -1} for x in mentors]
    inst = parse(raw)
    g = build_graph(inst, candidates=False)
    assert g.has_interests and len(g.forbidden_mentee) > 20  # the vetoes
    _assert_same_streams(g, chunk)
    for policy in ("stable", "greedy"):
        s = solve_checked(inst, policy)
        assert blocking_pairs(g, s, compiled=True) == blocking_pairs(g, s, compiled=False)
    fast, slow = _explained_both_ways(inst, "greedy", seed=1)
    assert fast == slow and any("will not work with" in u.detail for u in fast)


def test_round9_is_numpys_round_to_9_decimals():
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.random(20_000), np.arange(0, 1, 1 / 1024), (np.arange(2000) + 0.5) * 1e-9,
                         np.array([k / 25 * 0.9 for k in range(26)])])
    got = np.array([kernels._round9(x) for x in xs])
    assert np.array_equal(got, np.round(xs, 9))


def test_random_key_is_random_keys():
    m = 700
    i, j = np.repeat(np.arange(30), m), np.tile(np.arange(m), 30)
    for seed in (0, 5, 2**40 + 3):
        add = np.uint64((seed * kernels._GOLDEN + kernels._GOLDEN) % (1 << 64))
        got = np.array([kernels._random_key(add, a, b, m) for a, b in zip(i.tolist(), j.tolist(), strict=True)])
        assert np.array_equal(got, random_keys(seed, i, j, m))


def test_the_kernels_refuse_what_they_do_not_model():
    with_donors = build_graph(parse(generate(40, 10, donors=2, seed=3)), candidates=False)
    raw = generate(40, 10, seed=3)
    raw["rules"] = {"max_distance_km": 3000}
    with_distance = build_graph(parse(raw), candidates=False)
    for g in (with_donors, with_distance):
        with pytest.raises(ValueError, match="do not apply"):
            kernels.greedy(g, "score", 0, 4, 4, 16)
    with pytest.raises(ValueError, match="distance rule"):
        kernels.count_blocking(with_distance, np.arange(1), *([np.zeros(1)] * 7))


def _explained_both_ways(inst, policy: str, seed: int = 0):
    """explain_unmatched of a policy's solution, by the kernel and by numpy."""
    from wopmatch.solver.postsolve.explain import explain_unmatched

    g = build_graph(inst, candidates=False)
    s = solve_checked(inst, policy, seed=seed)
    mentee_at, mentor_at = g.mentee_index, g.mentor_index
    matched = np.zeros(g.n_mentees, bool)
    load = np.zeros(g.n_mentors, np.int64)
    for p in s.partnerships:
        matched[mentee_at[p.mentee]] = True
        if not p.pinned:
            load[mentor_at[p.mentor]] += 1
    none = np.zeros(0, np.int64)
    return [explain_unmatched(g, matched, load, none, none, compiled=c) for c in (True, False)]


@settings(max_examples=60)
@given(raw=tiny_instances(max_ops=8, donors=False), policy=st.sampled_from(["optimal", "greedy", "random"]))
def test_compiled_explanations_are_the_numpy_explanations(raw, policy):
    inst = parse(_budget_free(raw))
    if not build_graph(inst, candidates=False).infeasible:
        fast, slow = _explained_both_ways(inst, policy)
        assert fast == slow


@pytest.mark.parametrize("rules", [{}, {"language": "hard", "region": "same", "min_score": 0.45}])
def test_compiled_explanations_on_a_medium_instance(rules):
    raw = _medium(44, languages=90)
    raw["rules"] = rules
    for o in raw["operators"][:12]:  # some mentees no mentor can serve, for the structural reasons
        if "mentee" in o:
            o["languages"] = ["zu"]  # Zulu: no mentor of this round speaks it
    fast, slow = _explained_both_ways(parse(raw), "greedy", seed=1)
    assert fast == slow and len(fast) > 20
    assert len({u.reason for u in fast}) >= 2


def _greedy_by_hand(g, order):
    """greedy_assignment's rule, one pair at a time in Python (the reference for take_in_order)."""
    taken, room = set(), g.capacity.tolist()
    budget, count = g.budget.tolist(), g.max_count.tolist()
    pairs, donors = [], []
    for e in order.tolist():
        i, j, c = int(g.pair_mentee[e]), int(g.pair_mentor[e]), int(g.cost[e])
        if i in taken or room[j] <= 0:
            continue
        d = next((x for x in range(g.n_donors) if g.fundable[e, x] and budget[x] >= c and count[x] > 0), -1)
        if g.n_donors and d < 0:
            continue
        if d >= 0:
            budget[d] -= c
            count[d] -= 1
        taken.add(i)
        room[j] -= 1
        pairs.append(e)
        donors.append(d)
    return pairs, donors


@pytest.mark.parametrize("donors", [0, 3, 5])
def test_the_compiled_and_the_python_greedy_scans_are_the_rule_by_hand(donors):
    from wopmatch.solver.heuristics.greedy import greedy_assignment

    for seed in (1, 2):
        g = build_graph(parse(generate(150, 40, donors=donors, seed=seed, tightness=0.3)))
        rng = np.random.default_rng(seed)
        for order in (None, rng.permutation(g.n_candidates), rng.permutation(g.n_candidates)[: g.n_candidates // 3]):
            ref = _greedy_by_hand(g, np.argsort(-g.score, kind="stable") if order is None else order)
            for compiled in (True, False):
                p, d = greedy_assignment(g, order, compiled=compiled)
                assert (p.tolist(), d.tolist()) == ref, compiled
            assert len(ref[0]) > 10
