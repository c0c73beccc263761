"""``sanad mcp``: Sanad as Model Context Protocol tools over stdio (the official ``mcp`` SDK),
so an assistant answers from the archive with verbatim quotes: ``ask`` (the answer, its
confidence and band, citations with quotes and offsets; ``history`` for follow-ups),
``search`` (the passages hybrid retrieval finds) and ``get_article`` (an article's text, date,
URL and recorded copies). Same settings, same index, same answers as the CLI."""

from __future__ import annotations

from config import Settings
from rag import Sanad


def build_server(sanad: Sanad):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("sanad", instructions=(
        "Answers questions from an archive of Arabic news (any variety of Arabic, or English) and quotes the "
        "sentences the answer rests on. When `abstained` is true the archive does not hold the answer: say so."))

    @server.tool()
    def ask(question: str, history: list[str] | None = None) -> dict:
        """Answer a question from the news archive: `answer`, `confidence`, `band` (answer, closest or
        refused) and `citations` (article id, title, the quoted sentence, its character offsets, date, URL).
        `history`: the earlier questions of the conversation, oldest first, for a follow-up."""
        return sanad.ask(question, history or []).to_dict()

    @server.tool()
    def search(query: str, k: int = 5) -> list[dict]:
        """The `k` passages hybrid retrieval finds for `query`, best first, with their text."""
        return [h.to_dict() for h in sanad.search(query, max(1, min(k, 50)))]

    @server.tool()
    def get_article(doc_id: str) -> dict:
        """One article of the archive by id: its text, title, date, URL, source and recorded copies."""
        got = sanad.articles.get([doc_id]).get(doc_id)
        if got is None:
            raise ToolError(f"no article with id {doc_id!r}")
        return {**got.to_dict(), "copies": sanad.copies_of(doc_id)}

    return server


def run(settings: Settings) -> None:
    sanad = Sanad(settings)
    sanad.ensure_ready()
    build_server(sanad).run("stdio")
