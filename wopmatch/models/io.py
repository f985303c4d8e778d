"""Reading instances and solutions from files, writing files atomically."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

from pydantic import ValidationError

from .instance import Instance, parse_instance, plain_message
from .problems import InputError, MissingFileError, Problem, json_path
from .solution import Solution

SUPPORTED_INSTANCE_SUFFIXES = (".json", ".xlsx")


@dataclass(frozen=True)
class LoadedInstance:
    instance: Instance
    sha256: str
    path: Path


def unreachable(path: Path, what: str = "file") -> Optional[str]:
    """Why ``path`` cannot be read, or None: missing, or a name the system refuses (too
    long, a NUL byte) rather than the OSError that checking it raises."""
    try:
        return None if path.exists() else f"no such {what}: {path}"
    except (OSError, ValueError) as exc:
        return f"cannot use this path: {getattr(exc, 'strerror', None) or exc}"


def check_reachable(path: Path, what: str = "file") -> None:
    """MissingFileError (also a FileNotFoundError) when ``path`` does not exist,
    InputError when the system refuses its name."""
    missing = unreachable(path, what)
    if missing:
        error = MissingFileError if missing.startswith("no such") else InputError
        raise error([Problem("", missing)], str(path)[:200])


def read_bytes(path: Path) -> bytes:
    check_reachable(path)
    if path.is_dir():
        raise InputError([Problem("", "is a folder, not a file")], str(path))
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
    except RecursionError:
        raise InputError([Problem("", "the JSON is nested too deeply to be an instance")], source) from None
    except ValueError:  # Python refuses an integer of more than 4,300 digits
        raise InputError([Problem("", "a number in the JSON has more than 4,300 digits: no field of an instance "
                                      "takes one that long")], source) from None


def load_instance(path: str | os.PathLike[str]) -> LoadedInstance:
    """Read and validate an instance: a ``.json`` file, an ``.xlsx`` workbook or a
    folder of CSV files. Raise :class:`InputError` with every problem."""
    from .tables import read_csv_folder, read_workbook, tables_to_instance

    p = Path(path)
    check_reachable(p, "file or folder")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv" and f.is_file())
        if not files:
            raise InputError([Problem("", "the folder holds no .csv files (operators.csv, donors.csv, ...)")],
                             str(p))
        digest = hashlib.sha256()
        for f in files:  # the folder's identity: each table's name and bytes
            digest.update(f.name.encode() + b"\0" + hashlib.sha256(read_bytes(f)).digest())
        tables, problems = read_csv_folder(p)
        return LoadedInstance(tables_to_instance(tables, str(p), problems), digest.hexdigest(), p)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        raise InputError([Problem("", "give the folder that holds operators.csv (and donors.csv, ...), "
                                      "not one CSV file")], str(p))
    if suffix not in SUPPORTED_INSTANCE_SUFFIXES:
        raise InputError(
            [Problem("", f"unsupported instance format {p.suffix or '(none)'!r}; "
                         "supported: .json, .xlsx, or a folder of CSV files")],
            str(p),
        )
    data = read_bytes(p)
    with _collector_paused():
        if suffix == ".xlsx":
            tables, problems = read_workbook(io.BytesIO(data), str(p))
            instance = tables_to_instance(tables, str(p), problems)
        else:
            instance = parse_instance(decode_json(data, str(p)), str(p))
    return LoadedInstance(instance, hashlib.sha256(data).hexdigest(), p)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a file becomes an Instance: reading makes tens of
    thousands of small objects and no cycles, and the collector's passes over them were
    40% of loading a 2,000 x 500 round with 5 interests per operator (119 -> 69 ms)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_solution(path: str | os.PathLike[str]) -> Solution:
    p = Path(path)
    return parse_solution(decode_json(read_bytes(p), str(p)), str(p))


def parse_solution(raw: Any, source: str = "solution") -> Solution:
    """A solution from decoded JSON; InputError names every problem by its path."""
    try:
        return Solution.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            [Problem(json_path(e["loc"]) or "(solution)", plain_message(e)) for e in exc.errors(include_url=False)],
            source,
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


#: Temporary files and folders being written now, and the outputs written whole so far by this
#: process: what a command interrupted by Ctrl-C removes, and what it says it wrote (cli/main.py).
WRITING: set[str] = set()
WRITTEN: list[str] = []


@contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A temporary folder for a command's own working files (removed at the end, or by Ctrl-C:
    it is in WRITING); what is written in it is not an output (not in WRITTEN)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        WRITING.add(tmp)
        try:
            yield tmp
        finally:
            WRITING.discard(tmp)


def _output(target: Path) -> None:
    """Record ``target`` as written whole, unless it is a working file of a scratch folder."""
    if not any(str(target).startswith(folder + os.sep) for folder in WRITING if os.path.isdir(folder)):
        WRITTEN.append(str(target))


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: a reader sees the
    old file or the whole new one, never a part."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    WRITING.add(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask())
        os.replace(tmp, target)
        _output(target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        WRITING.discard(tmp)


def write_folder_atomic(folder: str | os.PathLike[str], files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``folder``. A new folder appears
    whole (written beside it under a temporary name, then renamed); in an
    existing one each file is replaced atomically, and other files are left alone."""
    target = Path(folder)
    if target.is_dir():
        for name, data in files.items():
            write_atomic(target / name, data)
        return
    parent = target.parent if str(target.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    WRITING.add(str(tmp))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o777 & ~_umask())
        os.rename(tmp, target)
        _output(target)
    except BaseException:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
        raise
    finally:
        WRITING.discard(str(tmp))


OutputKind = Literal["json", "xlsx", "csv"]


def output_kind(path: str | os.PathLike[str]) -> Optional[OutputKind]:
    """What a path asks to be written as: ``.json``, ``.xlsx``, or a folder of CSV
    files (an existing folder, or a name without a suffix); None if none of these."""
    p = Path(path)
    if p.is_dir() or str(path).endswith(("/", os.sep)):
        return "csv"
    suffix = p.suffix.lower()
    if suffix in (".json", ".xlsx"):
        return "json" if suffix == ".json" else "xlsx"
    return "csv" if suffix == "" else None


def instance_files(instance: Instance, kind: OutputKind) -> bytes | dict[str, bytes]:
    """The bytes of ``instance`` written as ``kind`` (a folder: name -> bytes).
    Raises :class:`tables.TableWriteError` if a table cannot carry it exactly."""
    from .tables import instance_tables, instance_workbook_bytes, tables_csv

    if kind == "json":
        return instance_bytes(instance)
    if kind == "xlsx":
        return instance_workbook_bytes(instance)
    return tables_csv(instance_tables(instance))
