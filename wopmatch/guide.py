"""The project's documents, as installed with the package (``wopmatch/docs`` holds
the docs/ folder's Markdown files): ``wopmatch docs [TOPIC]`` prints them and the
service serves them at ``/guide/TOPIC``, so every "docs/NAME.md" a message or a
page names can be read without the source tree."""

from __future__ import annotations

from importlib import resources
from typing import Optional


def topics() -> dict[str, str]:
    """Topic name (the file's name without .md) -> its title (first heading)."""
    out = {}
    folder = resources.files("wopmatch").joinpath("docs")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            first = next((line for line in entry.read_text(encoding="utf-8").splitlines()
                          if line.startswith("# ")), "# " + entry.name)
            out[entry.name[:-3]] = first[2:].strip()
    return out


def read(topic: str) -> Optional[str]:
    """The Markdown of ``topic`` ("format", "format.md" or "docs/format.md"), or None."""
    name = topic.strip().removeprefix("docs/").removesuffix(".md")
    if name not in topics():  # a fixed list: a request never names a path
        return None
    return resources.files("wopmatch").joinpath("docs", name + ".md").read_text(encoding="utf-8")
