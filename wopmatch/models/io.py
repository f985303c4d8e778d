"""Reading instances and solutions from files, writing files atomically."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .instance import Instance, parse_instance
from .problems import InputError, Problem, json_path
from .solution import Solution

SUPPORTED_INSTANCE_SUFFIXES = (".json",)


@dataclass(frozen=True)
class LoadedInstance:
    instance: Instance
    sha256: str
    path: Path


def read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError([Problem("", f"no such file: {path}")], str(path))
    if path.is_dir():
        raise InputError(
            [Problem("", "a folder of CSV files is not supported yet; give a .json instance file")],
            str(path),
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError([Problem("", f"cannot read: {exc.strerror}")], str(path)) from None


def decode_json(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Problem("", f"not UTF-8 text (byte {exc.start})")], source) from None
    if not text.strip():
        raise InputError([Problem("", "the file is empty")], source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Problem("", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")], source
        ) from None


def load_instance(path: str | os.PathLike[str]) -> LoadedInstance:
    """Read and validate an instance file; raise :class:`InputError` with every problem."""
    p = Path(path)
    if not p.is_dir() and p.suffix.lower() not in SUPPORTED_INSTANCE_SUFFIXES and p.exists():
        raise InputError(
            [Problem("", f"unsupported instance format {p.suffix or '(none)'!r}; supported: .json")],
            str(p),
        )
    data = read_bytes(p)
    instance = parse_instance(decode_json(data, str(p)), str(p))
    return LoadedInstance(instance, hashlib.sha256(data).hexdigest(), p)


def load_solution(path: str | os.PathLike[str]) -> Solution:
    p = Path(path)
    raw = decode_json(read_bytes(p), str(p))
    try:
        return Solution.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            [Problem(json_path(e["loc"]) or "(solution)", e["msg"]) for e in exc.errors(include_url=False)],
            str(p),
        ) from None


def solution_bytes(solution: Solution) -> bytes:
    return (solution.model_dump_json(indent=2) + "\n").encode("utf-8")


def instance_bytes(instance: Instance) -> bytes:
    data = instance.model_dump(mode="json", exclude_defaults=False)
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: a reader sees the
    old file or the whole new one, never a part."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
