"""The solver's one door: every shell (cli, service, scenarios, bench, reports)
uses these names and no others (tests/test_architecture.py checks it).

docs/architecture.md describes the rooms behind it: graph/ (the candidate
pairs), network/ (min-cost flows and pricing), budgets/ (the exact method with
donors), heuristics/, policies/, postsolve/ (decode, explain, alternates,
metrics, what-if) and verify.py (the independent check).
"""

from .api import Watch, check_request, coverage_bound, plan, solve
from .children import die_with_parent
from .errors import SolveError, UnknownPolicyError, UnsupportedMethodError
from .interrupt import Worker, run_stoppable
from .options import DEFAULT_CHANGE_PENALTY, INT32_MAX, OptionField, SolveOptions, option_fields
from .policies import GROUP_KEYS, METHODS, POLICIES
from .postsolve.whatif import mentee_proposals
from .rounds import AgreedRound, PreviousRound, rebuild_round, round_changes
from .tuning import Tuning
from .verify import PairVerdict, pair_facts, pair_verdict, verify_solution

__all__ = [
    "AgreedRound",
    "DEFAULT_CHANGE_PENALTY",
    "GROUP_KEYS",
    "INT32_MAX",
    "METHODS",
    "POLICIES",
    "OptionField",
    "PairVerdict",
    "PreviousRound",
    "SolveError",
    "SolveOptions",
    "Tuning",
    "UnknownPolicyError",
    "UnsupportedMethodError",
    "Watch",
    "Worker",
    "check_request",
    "coverage_bound",
    "die_with_parent",
    "mentee_proposals",
    "option_fields",
    "pair_facts",
    "pair_verdict",
    "plan",
    "rebuild_round",
    "round_changes",
    "run_stoppable",
    "solve",
    "verify_solution",
]
