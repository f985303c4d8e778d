"""The exact method with donors: the Lagrangian relaxation of the budgets (lagrange.py), the staged
MIP (mip.py) run by HiGHS (highs.py), and the order they run in (staged.py)."""
