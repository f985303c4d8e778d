import os

from hypothesis import HealthCheck, settings

# Solves take milliseconds but vary on shared machines: no per-example deadline.
settings.register_profile("default", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
# WOPMATCH_EXAMPLES=500 runs the property tests longer by hand.
settings.register_profile("thorough", parent=settings.get_profile("default"),
                          max_examples=int(os.environ.get("WOPMATCH_EXAMPLES", "500")))
settings.load_profile("thorough" if "WOPMATCH_EXAMPLES" in os.environ else "default")
