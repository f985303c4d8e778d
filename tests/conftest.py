from hypothesis import HealthCheck, settings

# Solves take milliseconds but vary on shared machines: no per-example deadline.
settings.register_profile("default", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")
