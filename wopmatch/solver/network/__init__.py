"""Min-cost flows on matching networks (flow.py) and the one pricing loop that proves a flow on a
working set optimal for every pair (pricing.py)."""
