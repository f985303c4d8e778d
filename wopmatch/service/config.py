"""The service's settings (``wopmatch serve`` options, or environment variables)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

#: Environment variable with bearer tokens, comma-separated (or use a tokens file).
TOKENS_ENV = "WOPMATCH_TOKENS"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ServiceConfig:
    data_dir: Path
    tokens: tuple[str, ...] = field(repr=False)
    workers: int = 2  # solve processes at once
    max_body_bytes: int = 20 * 1024 * 1024
    max_queued: int = 100
    retry_after: int = 30  # seconds, sent with 429
    memory_mib: int = 4096  # address-space cap of each solve process
    time_cap: float = 3600.0  # seconds a job may run, whatever it asks for
    max_attempts: int = 3  # starts of a job interrupted by restarts before it is failed
    poll_seconds: float = 0.2

    def owner(self, token: str) -> Optional[str]:
        """The token's fingerprint if it is one of ours (None otherwise). Every
        configured token is compared, in constant time, whatever matches first."""
        given = token.encode()
        found: Optional[str] = None
        for t in self.tokens:
            if hmac.compare_digest(given, t.encode()) and found is None:
                found = fingerprint(t)
        return found


def fingerprint(token: str) -> str:
    """What the store keeps of a token: jobs belong to it, the token itself is never stored."""
    return hashlib.sha256(b"wopmatch-token\0" + token.encode()).hexdigest()[:32]


def read_tokens(tokens_file: Optional[Path]) -> tuple[str, ...]:
    """Tokens from the file (one per line; blank lines and # comments skipped)
    and from $WOPMATCH_TOKENS (comma-separated). At least 16 characters each."""
    tokens: list[str] = []
    if tokens_file is not None:
        try:
            text = tokens_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the tokens file {tokens_file}: {exc.strerror}") from None
        tokens += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    tokens += [t.strip() for t in os.environ.get(TOKENS_ENV, "").split(",") if t.strip()]
    short = [k for k, t in enumerate(tokens) if len(t) < 16]
    if short:
        raise ConfigError(f"{len(short)} token(s) shorter than 16 characters; use long random tokens "
                          "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if not tokens:
        raise ConfigError(f"no bearer token configured: give --tokens-file FILE or set {TOKENS_ENV}")
    return tuple(dict.fromkeys(tokens))
