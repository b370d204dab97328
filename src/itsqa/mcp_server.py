"""itsqa for AI assistants: an MCP server (the official `mcp` SDK) with three tools over one
LiveIndex, so an assistant can quote the sources with exact citations instead of guessing.

- `search`: cited passages for a question, the content of `itsqa ask --json`;
- `get_passage`: the exact text of a cited range, with surrounding text if asked;
- `list_sources`: what the corpus holds.

Arguments are checked strictly before any tool runs (an unknown parameter, a wrong type or a
value out of range is an MCP error with a one-line message, and the server keeps serving); the
index is brought up to date with the sources before each call answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .answer import ask_json
from .errors import ItsqaError, UsageError
from .live import LiveIndex
from .question_text import clean_question
from .scope import scope_from
from .source_text import MAX_CONTEXT, passage, source_text

INSTRUCTIONS = (
    "itsqa searches a fixed collection of documents on this machine (by default, sources about "
    "the UK's 2023 International Technology Strategy; list_sources says what is there). It "
    "returns passages, never answers: read them. Quote only what a passage says, and cite its "
    "title, publisher, date and character range (and page for a PDF). When `confident` is "
    "false, or `missing_words` holds the question's subject, the collection probably does not "
    "answer the question: say so rather than guess.")
SEARCH = (
    "Find the passages of the local document collection that answer a question. Returns up to "
    "k passages, best first, each with its citation (title, publisher, date, url, source file, "
    "start/end character range, page for a PDF, section), the passage text, `highlights` (the "
    "character ranges of the sentences that best answer) and `also_in` (other sources carrying "
    "the same passage). `best_answer` is the best sentence of the first passage. `confident: "
    "false` means no passage is close to the question, or every name it asks about is absent; "
    "`missing_words` lists question words no "
    "source contains (if the subject is among them, the collection likely does not answer); "
    "`corrections` lists mistyped words read as others. Results are passages, not answers. "
    "Narrow with source (file names as list_sources gives them, or globs), publisher (part of "
    "its name), since/until (YYYY, YYYY-MM or YYYY-MM-DD).")
GET_PASSAGE = (
    "The exact text of a cited range of a source (source = the `name` a search result or "
    "list_sources gives; start/end = its character range), with up to context_chars characters "
    "before and after, to read around a passage before quoting it. Returns text, before, after "
    "and the source's title, publisher, date, url and the range's page.")
LIST_SOURCES = (
    "Every source in the collection: name (what search's `source` filter and get_passage take), "
    "title, publisher, date, url, status (indexed, changed, new, removed or skipped) and how many "
    "passages it has.")
Mode = Literal["hybrid", "dense", "bm25", "late"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SearchArgs(_Strict):
    query: Annotated[str, Field(min_length=1, max_length=4000,
                                description="the question, in any words")]
    k: Annotated[int, Field(ge=1, le=50, description="how many passages")] = 5
    mode: Annotated[Mode | None, Field(description="ranking; hybrid (the default) is best")] = None
    source: Annotated[list[Annotated[str, Field(min_length=1)]] | None, Field(
        description="only these sources: names from list_sources, or globs")] = None
    publisher: Annotated[list[Annotated[str, Field(min_length=1)]] | None, Field(
        description="only sources whose publisher contains one of these (any case)")] = None
    since: Annotated[str | None, Field(description="only sources dated on or after this: "
                                                   "YYYY, YYYY-MM or YYYY-MM-DD")] = None
    until: Annotated[str | None, Field(description="only sources dated on or before this")] = None


class PassageArgs(_Strict):
    source: Annotated[str, Field(min_length=1, max_length=1000,
                                 description="the source's name (a search result's `name`)")]
    start: Annotated[int, Field(ge=0, description="the range's first character")]
    end: Annotated[int, Field(ge=1, description="the character after the range")]
    context_chars: Annotated[int, Field(ge=0, le=MAX_CONTEXT, description=(
        "characters of surrounding text to add before and after"))] = 0


class NoArgs(_Strict):
    pass


ARGS: dict[str, type[_Strict]] = {"search": SearchArgs, "get_passage": PassageArgs,
                                  "list_sources": NoArgs}


def argument_error(tool: str, exc: ValidationError) -> str:
    """One line naming what is wrong with a tool's arguments."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
    if first.get("type") == "extra_forbidden":
        allowed = ", ".join(ARGS[tool].model_fields) or "none"
        return f"{tool}: unknown parameter {where!r} (its parameters: {allowed})"
    return f"{tool}: {where}: {first.get('msg', 'invalid')}"


def check_arguments(name: str, arguments: Any) -> None:
    """Raise UsageError (one line) unless `arguments` fit tool `name` exactly."""
    model = ARGS.get(name)
    if model is None:
        return  # an unknown tool: the SDK answers that itself
    try:
        model.model_validate(arguments if arguments is not None else {})
    except ValidationError as exc:
        raise UsageError(argument_error(name, exc)) from None


def _one_line(exc: Exception) -> str:
    from .terminal import one_line

    return one_line(str(exc))


def build_server(live: LiveIndex, refresh: bool = True) -> Any:
    """The MCP server with its three tools. `refresh`: bring the index up to date before each
    call (a stdio server has no timer doing it)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools import Tool
    from mcp.shared.exceptions import MCPError
    from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

    from . import __version__

    async def strict_arguments(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call" and isinstance(ctx.params, dict):
            try:
                check_arguments(str(ctx.params.get("name")), ctx.params.get("arguments"))
            except UsageError as exc:
                raise MCPError(INVALID_PARAMS, _one_line(exc)) from None
        return await call_next(ctx)

    def current() -> Any:
        if refresh:
            live.refresh()
        return live.retriever

    def run(work: Any) -> Any:
        try:
            return work()
        except UsageError as exc:
            raise MCPError(INVALID_PARAMS, _one_line(exc)) from None
        except ItsqaError as exc:
            raise MCPError(INTERNAL_ERROR, _one_line(exc)) from None

    def search(query: str, k: int = 5, mode: Mode | None = None, source: list[str] | None = None,
               publisher: list[str] | None = None, since: str | None = None,
               until: str | None = None) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            r = current()
            scope = scope_from(source or (), publisher or (), since, until)
            answer = r.ask(clean_question(query), k=k, mode=mode, scope=scope)
            return ask_json(replace(answer, question=query), scope=scope)

        return run(work)

    def get_passage(source: str, start: int, end: int, context_chars: int = 0) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            r = current()
            return passage(source_text(r.index, r.settings.corpus_dir, source), start, end,
                           context_chars)

        return run(work)

    def list_sources() -> dict[str, Any]:
        def work() -> dict[str, Any]:
            from .catalog import list_sources as rows_of

            current()
            rows, _warnings = rows_of(live.settings)
            return {"sources": [{"name": r.name, "title": r.title, "publisher": r.publisher,
                                 "date": r.date, "url": r.url, "status": r.status,
                                 "passages": r.chunks or 0} for r in rows]}

        return run(work)

    tools = []
    for fn, description in ((search, SEARCH), (get_passage, GET_PASSAGE),
                            (list_sources, LIST_SOURCES)):
        tool = Tool.from_function(fn, description=description)
        tool.parameters = ARGS[tool.name].model_json_schema()  # the strict schema, as checked
        tools.append(tool)
    return MCPServer(name="itsqa", version=__version__, instructions=INSTRUCTIONS, tools=tools,
                     middleware=[strict_arguments], log_level="WARNING")
