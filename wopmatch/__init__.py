"""wopmatch: match water and sanitation utilities into Water Operators' Partnerships."""

__version__ = "0.1.0"
