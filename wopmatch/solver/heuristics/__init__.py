"""The ordered heuristics: greedy (and random's order) and deferred acceptance, on the whole
candidate graph or on mentee streams."""
