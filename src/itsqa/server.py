"""`itsqa serve`: the web page and the HTTP API over one LiveIndex (the model and index loaded
once, following the sources). FastAPI on uvicorn; every asset ships in the package (web/), nothing
is fetched from elsewhere.

Security, since the server opens files and renders text nobody vetted: requests whose Host or
Origin is not the server's own are refused (DNS rebinding); the page renders every piece of
source text and metadata as text, never as markup, under a Content-Security-Policy that allows
no inline script; a source is served by its name in the index, never by a path from the request;
query strings and bodies are capped."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from . import __version__
from .answer import ask_json
from .errors import (
    ItsqaError,
    NoIndexError,
    SourceChangedError,
    UnknownSourceError,
    UsageError,
)
from .jsonio import json_text
from .live import LiveIndex
from .question_text import clean_question
from .scope import scope_from
from .source_text import MAX_CONTEXT, passage, source_text
from .terminal import one_line

MAX_QUERY_BYTES = 8 * 1024
MAX_BODY_BYTES = 1024 * 1024
MAX_QUESTION_CHARS = 4000
MAX_K = 50
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'; form-action 'self'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Mode = Literal["hybrid", "dense", "bm25", "late"]  # ranking.MODES


def host_allowed(host: str, port: int, names: Iterable[str]) -> bool:
    """Whether a Host (or an Origin's host) names this server: an IP address or one of `names`
    (localhost and what --allow-host adds), with this server's port. A DNS name an attacker
    controls (rebinding) is none of these."""
    parts = urlsplit(f"//{host}")
    try:
        hostname, got_port = parts.hostname or "", parts.port
    except ValueError:
        return False
    if got_port is not None and got_port != port:
        return False
    if hostname in {n.lower() for n in names}:
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


class Guard:
    """ASGI middleware: refuses foreign Host and Origin headers and over-long queries and
    bodies, and adds the security headers to every response."""

    def __init__(self, app: ASGIApp, port: int, names: Iterable[str]) -> None:
        self.app, self.port, self.names = app, port, tuple(names)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(scope, headers)
        if problem:
            status, message = problem
            return await _send_json(send, status, {"error": message})
        return await self.app(scope, self._capped(receive), self._secured(send))

    def _problem(self, scope: dict[str, Any], headers: dict[str, str]) -> tuple[int, str] | None:
        if not host_allowed(headers.get("host", ""), self.port, self.names):
            return 403, "this server answers requests addressed to it by IP address or localhost only"
        origin = headers.get("origin")
        if origin and origin != "null" and not host_allowed(urlsplit(origin).netloc, self.port,
                                                            self.names):
            return 403, "requests from other sites' pages are refused"
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            return 414, f"the query string is over {MAX_QUERY_BYTES} bytes"
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return 413, f"the request body is over {MAX_BODY_BYTES} bytes"
        return None

    def _capped(self, receive: Any) -> Any:
        seen = 0

        async def wrapped() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise UsageError(f"the request body is over {MAX_BODY_BYTES} bytes")
            return message

        return wrapped

    def _secured(self, send: Any) -> Any:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.encode() not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json_text(body).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]})
    await send({"type": "http.response.body", "body": data})


def status_of(exc: Exception) -> int:
    """The HTTP status for a library error."""
    if isinstance(exc, UnknownSourceError):
        return 404
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, (NoIndexError, SourceChangedError)):
        return 503
    return 500


def _page(name: str) -> Any:
    return HTMLResponse(resources.files("itsqa").joinpath("web", name).read_text(encoding="utf-8"))


def _mcp_app(live: LiveIndex) -> tuple[Any, Any]:
    """The MCP tools over Streamable HTTP (mounted at /mcp), and the lifespan that runs their
    session manager. Host and Origin are checked by Guard, in front of everything."""
    from contextlib import asynccontextmanager

    from mcp.server.transport_security import TransportSecuritySettings

    from .mcp_server import build_server

    server = build_server(live, refresh=True)  # each call checks, as a stdio server's does
    app = server.streamable_http_app(
        streamable_http_path="/", transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=False))

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        async with server.session_manager.run():
            yield

    return app, lifespan


def create_app(live: LiveIndex, port: int, names: Iterable[str] = ("localhost",),
               mcp: bool = False, serving: str = "") -> Any:
    """The ASGI application: pages, /api/*, /healthz, /openapi.json, and with `mcp` the MCP
    tools at /mcp (Streamable HTTP). `serving`: the token this server announced in its index
    folder for `itsqa ask` to hand questions over (handoff.py)."""
    mcp_app, lifespan = _mcp_app(live) if mcp else (None, None)
    app = FastAPI(title="itsqa", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan,
                  description="Cited passages from a local document collection.")

    @app.exception_handler(ItsqaError)
    async def library_error(_request: Any, exc: ItsqaError) -> JSONResponse:
        return JSONResponse({"error": one_line(str(exc))}, status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Any, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": one_line(f"{where}: {first.get('msg', 'invalid')}")},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Any, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": one_line(str(exc.detail))}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": one_line(f"unexpected {type(exc).__name__}: {exc}")},
                            status_code=500)

    add_pages(app, live)
    add_api(app, live, serving)
    app.mount("/static", StaticFiles(packages=[("itsqa", "web")]), name="static")
    if mcp_app is not None:
        app.mount("/mcp", mcp_app)
    return Guard(app, port, names)


def add_pages(app: Any, live: LiveIndex) -> None:
    """The three pages; each loads its script from /static and asks the API. A source page
    exists only for a source in the index."""
    import html

    page = {"methods": ["GET", "HEAD"], "include_in_schema": False}

    @app.api_route("/", **page)
    def index_page() -> Any:
        return _page("index.html")

    @app.api_route("/sources", **page)
    def sources_page() -> Any:
        return _page("sources.html")

    @app.api_route("/source/{name:path}", **page)
    def source_page(name: str) -> Any:
        if name not in live.retriever.index.sources:
            return HTMLResponse(f"<!doctype html><title>Not found</title><p>No source is named "
                                f"{html.escape(name)} in the index. <a href='/sources'>Sources</a>",
                                status_code=404)
        return _page("source.html")


def add_api(app: Any, live: LiveIndex, serving: str = "") -> None:
    """/api/ask, /api/sources, /api/source, /api/passage, /api/status and /healthz."""
    ask_lock = threading.Lock()  # one question at a time uses the model: the machine is small

    @app.get("/api/ask", summary="Cited passages for a question (the JSON of `itsqa ask --json`)")
    def api_ask(q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS)],
                k: Annotated[int, Query(ge=1, le=MAX_K)] = 5, mode: Mode | None = None,
                source: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI's idiom)
                publisher: Annotated[list[str], Query()] = [],  # noqa: B006
                since: str | None = None, until: str | None = None, fresh: bool = False,
                handoff: Annotated[str | None, Query(max_length=100)] = None) -> Any:
        if handoff is not None and handoff != serving:  # an ask meant for another server
            return JSONResponse({"error": "this is not the server that announced itself"},
                                status_code=409)
        question = clean_question(q)
        scope = scope_from(source, publisher, since, until)
        if fresh:  # as a cold `itsqa ask` does, and for one handed over (handoff.py)
            live.refresh()

        def compute(r: Any) -> Any:
            with ask_lock:
                return ask_json(r.ask(question, k=k, mode=mode, scope=scope), q, False, scope)

        return live.cached(("ask", question, k, mode, scope), compute)

    @app.get("/api/sources", summary="Every source and its status (`itsqa sources --json`)")
    def api_sources() -> Any:
        from .catalog import list_sources

        rows, _warnings = list_sources(live.settings)
        return [r.as_json() for r in rows]

    @app.get("/api/source", summary="A source's whole text as indexed, its metadata and passages")
    def api_source(name: Annotated[str, Query(min_length=1, max_length=1000)]) -> Any:
        return live.cached(("source", name),
                           lambda r: source_text(r.index, r.settings.corpus_dir, name).as_json())

    @app.get("/api/passage", summary="The text and metadata of a cited range")
    def api_passage(source: Annotated[str, Query(min_length=1, max_length=1000)],
                    start: Annotated[int, Query(ge=0)], end: Annotated[int, Query(ge=1)],
                    context: Annotated[int, Query(ge=0, le=MAX_CONTEXT)] = 0) -> Any:
        r = live.retriever
        return passage(source_text(r.index, r.settings.corpus_dir, source), start, end, context)

    @app.get("/api/status", summary="The index: generation, size, when last refreshed")
    def api_status() -> Any:
        return live.status().as_json()

    @app.get("/healthz", summary="Liveness, and whether an index is open")
    def healthz() -> Any:
        status = live.status()
        return {"status": "ok" if status.generation else "no index", "index": status.as_json()}
