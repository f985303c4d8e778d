"""The candidate pairs: the instance as numpy arrays (encoding.py), each mentee's pairs a chunk at a
time (streams.py), the compiled pair kernels (kernels.py, compiled.py) and the integer units (units.py)."""
