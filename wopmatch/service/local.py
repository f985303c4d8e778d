"""A `wopmatch serve` in a process of its own on a free loopback port: for the
service's tests and the load benchmark (benchmarks/load.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import httpx


class Server:
    """``wopmatch serve`` in a process of its own on a free loopback port (port 0:
    the port is read from uvicorn's log, so two tests never race for one)."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args
        self.process: Optional[subprocess.Popen] = None
        self.tokens: tuple[str, ...] = ()
        self.url = ""
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    def start(self, tokens: tuple[str, ...], timeout: float = 60.0) -> "Server":
        self.tokens = tokens
        tokens_file = self.data_dir.parent / "tokens.txt"
        tokens_file.write_text("".join(t + "\n" for t in tokens))
        log = open(self.log_path, "ab")
        start = self.log_path.stat().st_size
        env = {k: v for k, v in os.environ.items() if k != "WOPMATCH_TOKENS"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from wopmatch.cli.main import main; main()", "serve", "--data",
             str(self.data_dir), "--port", "0", "--tokens-file", str(tokens_file), *self.args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[start:].decode(errors="replace")
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", text)
            if found:
                self.url = found.group(1)
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{text}")
            time.sleep(0.1)
        raise RuntimeError("the server did not start:\n" + self.log_path.read_text(errors="replace"))

    def client(self, token: Optional[str] = "") -> "httpx.Client":
        """A client with ``token`` (default: the first one; None: no token). Needs httpx."""
        import httpx

        token = self.tokens[0] if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)

    def kill(self) -> None:
        """SIGKILL the API process (its solve processes die with it: PR_SET_PDEATHSIG)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
