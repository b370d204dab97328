"""`itsqa mcp`: the MCP server (mcp_server.py) over stdio, as assistants launch it."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import corpus_option, err, index_option, progress_lines, settings_for, store_option


@click.command("mcp")
@corpus_option
@index_option
@store_option
@click.pass_context
def mcp_cmd(ctx: click.Context, corpus: Path | None, index_dir: Path | None) -> None:
    """Serve the search, get_passage and list_sources tools to an AI assistant over stdio
    (the Model Context Protocol). Builds the index on first use; notes go to stderr."""
    from .live import LiveIndex
    from .mcp_server import build_server

    live = LiveIndex(settings_for(ctx, corpus, index_dir), note=err, progress=progress_lines())
    build_server(live, refresh=True).run("stdio")
