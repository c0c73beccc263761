"""`sanad mcp` through the MCP SDK's own client over stdio: the tools are listed, `ask`
answers with the CLI's object and quotes, `get_article` gives the text, bad ids are errors."""

import asyncio
import json
import os
import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def call(env: dict, steps):
    async def go():
        params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp"], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await steps(session)

    return asyncio.run(asyncio.wait_for(go(), 600))


def payload(result) -> object:
    if getattr(result, "structured_content", None):
        data = result.structured_content
        return data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data
    return json.loads(result.content[0].text)


def test_an_assistant_asks_through_mcp(seeded, cache_dir):
    env = {**os.environ, "SANAD_HOME": str(seeded.settings.home), "SANAD_CACHE_DIR": str(cache_dir),
           "HF_HUB_OFFLINE": "1", "SANAD_CORPUS": ""}

    async def steps(session):
        tools = await session.list_tools()
        asked = await session.call_tool("ask", {"question": "من هو وزير الداخلية الروسي؟"})
        article = await session.call_tool("get_article", {"doc_id": "sanad-demo-rail-line"})
        missing = await session.call_tool("get_article", {"doc_id": "no-such-id"})
        found = await session.call_tool("search", {"query": "محطة تحلية", "k": 2})
        return tools, asked, article, missing, found

    tools, asked, article, missing, found = call(env, steps)
    assert {t.name for t in tools.tools} == {"ask", "search", "get_article"}
    answer = payload(asked)
    assert "كولوكولتسيف" in answer["answer"] and answer["band"] == "answer"
    quote = answer["citations"][0]
    text = seeded.articles.get([quote["doc_id"]])[quote["doc_id"]].article.text
    assert text[quote["start"]:quote["end"]] == quote["quote"]  # a verbatim quote with its offsets
    assert payload(article)["text"].startswith("تدشين خط سكة حديد سريع")
    assert missing.is_error and "no-such-id" in missing.content[0].text
    hits = payload(found)
    assert len(hits) == 2 and hits[0]["doc_id"] == "sanad-demo-desalination"
