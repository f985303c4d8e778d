"""From an assignment to a solution: decode (ids, bounds, gaps), explain (why each unmatched mentee
is), alternates (runner-up mentors), metrics, and whatif (what would match an unmatched mentee)."""
