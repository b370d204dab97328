"""`itsqa serve`: the web page and HTTP API (server.py) on uvicorn, until Ctrl-C."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import click

from .cli_common import corpus_option, err, index_option, progress_lines, settings_for, store_option

LOOPBACK_NAMES = ("localhost",)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_for(host: str, port: int) -> str:
    """The address to open: the host as given (bracketed if IPv6), loopback for "all"."""
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes your documents.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@corpus_option
@index_option
@store_option
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests addressed to this host name (besides IP addresses and "
                   "localhost). Repeat for several.")
@click.option("--refresh-seconds", type=click.FloatRange(0.5, 3600), default=2.0, show_default=True,
              help="How often to check the sources for changes.")
@click.pass_context
def serve_cmd(ctx: click.Context, host: str, port: int, corpus: Path | None,
              index_dir: Path | None, allow_hosts: tuple[str, ...],
              refresh_seconds: float) -> None:
    """Serve the question page and the HTTP API (builds the index on first use)."""
    import uvicorn

    from .handoff import announce, withdraw
    from .live import LiveIndex
    from .server import create_app

    settings = settings_for(ctx, corpus, index_dir)
    if not _is_loopback(host):
        err(f"warning: listening on {host}: anyone who can reach this machine can read your "
            "documents through it")
    live = LiveIndex(settings, note=err, progress=progress_lines())
    live.start(refresh_seconds)
    token = secrets.token_hex(16)
    app = create_app(live, port, (*LOOPBACK_NAMES, *allow_hosts), mcp=True, serving=token)
    err(f"itsqa is serving {settings.corpus_dir} at {url_for(host, port)} (Ctrl-C to stop)")
    announced = announce(settings, port, token)  # `itsqa ask` hands questions over (handoff.py)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        withdraw(announced)
        live.stop()
