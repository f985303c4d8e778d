"""The facilitators' page (static files) and the health check, both without a token."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from ... import __version__
from ..deps import StoreDep
from ..requests import HealthOut

router = APIRouter()

#: The page's files (a fixed list: a request never names a path).
STATIC = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
          "page.css": "text/css; charset=utf-8"}
#: The page loads nothing from elsewhere and is framed by nobody; the report it shows is a sandboxed blob.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self'; img-src 'self' data: blob:; frame-src blob:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _static(name: str) -> Response:
    data = resources.files("wopmatch.service").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name], headers=PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> Response:
    """The facilitators' page: static, no data; it calls the API with the token typed into it."""
    return _static("index.html")


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return _static(name)


@router.get("/guide", tags=["service"])
def guide_topics() -> dict[str, str]:
    """The documentation's topics (name -> title), as installed with the service."""
    from ... import guide

    return guide.topics()


@router.get("/guide/{topic}", tags=["service"])
def guide_topic(topic: str) -> Response:
    """One topic of the documentation, as Markdown (what `wopmatch docs TOPIC` prints)."""
    from ... import guide

    text = guide.read(topic)
    if text is None:
        raise HTTPException(404, f"no topic {topic!r}; topics: {', '.join(guide.topics())}")
    return Response(text, media_type="text/markdown; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"})


@router.get("/v1/health", response_model=HealthOut, tags=["service"])
def health(store: StoreDep) -> dict[str, Any]:
    counts = store.counts()
    return {"status": "ok", "version": __version__, "queued": counts.get("queued", 0),
            "running": counts.get("running", 0)}
