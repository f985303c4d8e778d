"""Policy studies for researchers: ``wopmatch bench run`` and ``wopmatch bench report`` (docs/bench.md)."""
