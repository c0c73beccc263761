"""Sanad's retriever inside LangChain chains, and the LLM answerer against a fake
OpenAI-compatible server on 127.0.0.1 (real HTTP through the real LangChain client)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from config import SEEDS_DIR
from rag import Sanad
from rag.langchain_retriever import SanadRetriever

API_KEY = "sk-test-key-that-must-never-be-logged-123"
QUESTION = "من هو وزير الداخلية الروسي؟"


@pytest.fixture()
def llm():
    server = FakeOpenAI()
    yield server
    server.stop()


@pytest.fixture()
def llm_sanad(llm, seeded, caplog):
    from rag.logs import RedactSecrets

    caplog.handler.addFilter(RedactSecrets([API_KEY]))
    caplog.set_level(logging.DEBUG)
    settings = seeded.settings.model_copy(update={
        "answerer": "llm", "llm_base_url": llm.base_url, "llm_model": "test-model", "llm_timeout": 2.0,
        "llm_max_retries": 0, "llm_api_key": __import__("pydantic").SecretStr(API_KEY)})
    sanad = Sanad(settings, embedder=seeded.embedder)
    return sanad


def test_retriever_in_a_plain_chain(seeded):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import RunnableLambda

    retriever = SanadRetriever(sanad=seeded, k=3)
    seen = {}

    def fmt(docs):
        seen["docs"] = docs
        return "\n\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(docs, 1))

    model = GenericFakeChatModel(messages=iter([AIMessage(content="فلاديمير كولوكولتسيف [1]")]))
    chain = retriever | RunnableLambda(fmt) | model
    out = chain.invoke(QUESTION)
    assert out.content == "فلاديمير كولوكولتسيف [1]"
    docs = seen["docs"]
    assert len(docs) == 3
    originals = {a.doc_id: a.text for a in __import__("rag.loaders", fromlist=["x"]).load_corpus(SEEDS_DIR, 10**7)}
    for d in docs:
        m = d.metadata
        assert set(m) >= {"doc_id", "title", "chunk_id", "start", "end", "score"}
        assert originals[m["doc_id"]][m["start"]: m["end"]] == d.page_content
    assert any("كولوكولتسيف" in d.page_content for d in docs)
    adocs = asyncio.run(retriever.ainvoke(QUESTION))
    assert [d.metadata["chunk_id"] for d in adocs] == [d.metadata["chunk_id"] for d in docs]


def cited_passages(sanad):
    """The passages the LLM is given for QUESTION, as the answerer will number them."""
    base = sanad.answerer.extractive.answer(QUESTION, sanad.retrieve(QUESTION))
    return base.hits[: sanad.settings.llm_passages]


def test_well_cited_answer_passes_through(llm, llm_sanad, caplog):
    hits = cited_passages(llm_sanad)
    named = next(i for i, h in enumerate(hits, 1) if "فلاديمير كولوكولتسيف" in h.chunk.text)
    signed = next(i for i, h in enumerate(hits, 1) if "رئيسي جهازي الشرطة" in h.chunk.text)
    assert named != signed
    llm.replies.append({"text": f"وقع رئيسي جهازي الشرطة في البلدين الاتفاقية [{signed}]. "
                                f"ووزير الداخلية الروسي هو فلاديمير كولوكولتسيف [{named}]."})
    answer = llm_sanad.ask(QUESTION)
    assert answer.answerer == "llm" and not answer.fallback
    assert answer.answer == "وقع رئيسي جهازي الشرطة في البلدين الاتفاقية [1]. ووزير الداخلية الروسي هو فلاديمير كولوكولتسيف [2]."
    assert [c.chunk_id for c in answer.citations] == [hits[signed - 1].chunk.chunk_id, hits[named - 1].chunk.chunk_id]
    assert "رئيسي جهازي الشرطة" in answer.citations[0].quote and "كولوكولتسيف" in answer.citations[1].quote
    assert answer.related and not {c.chunk_id for c in answer.related} & {c.chunk_id for c in answer.citations}
    prompt = llm.requests[0]["messages"]
    assert prompt[0]["role"] == "system" and "[1]" in prompt[1]["content"] and QUESTION in prompt[1]["content"]
    passages = prompt[1]["content"]
    cited = passages.split(f"[{signed}] ", 1)[1]
    assert answer.citations[0].quote in cited  # the quote is source text from the cited passage
    assert {k.lower(): v for k, v in llm.headers[0].items()}["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    "plan, reason",
    [
        ({"text": "هو فلاديمير كولوكولتسيف [7]."}, "only"),
        ({"text": "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف."}, "cites no passage"),
        ({"text": "وزير الداخلية هو فلاديمير كولوكولتسيف [1]. وقد زار طهران ووقع اتفاقيات كثيرة مع نظيره الإيراني."}, "claim without"),
        ({"status": 500}, "failed"),
        ({"delay": 4, "text": "متأخر [1]."}, "failed"),
    ],
    ids=["cites-7-of-5", "no-citation", "uncited-claim", "http-500", "timeout"],
)
def test_bad_or_failed_answers_fall_back_to_extractive(llm, llm_sanad, caplog, plan, reason):
    llm.replies.append(plan)
    answer = llm_sanad.ask(QUESTION)
    assert answer.answerer == "extractive" and reason in answer.fallback
    assert "كولوكولتسيف" in answer.answer and answer.citations  # the extractive answer, same citations
    assert "LLM answer replaced" in caplog.text and reason in caplog.text
    assert API_KEY not in caplog.text


def test_a_cited_passage_that_does_not_state_the_claim_falls_back(llm, llm_sanad, caplog):
    hits = cited_passages(llm_sanad)
    n = next(i for i, h in enumerate(hits, 1) if "كولوكولتسيف" in h.chunk.text and "فلاديمير كولوكولتسيف" not in h.chunk.text)  # mentions him, does not say he is the minister
    llm.replies.append({"text": f"وزير الداخلية الروسي هو فلاديمير كولوكولتسيف [{n}]."})
    answer = llm_sanad.ask(QUESTION)
    assert answer.answerer == "extractive" and "does not state" in answer.fallback
    assert all("كولوكولتسيف" in c.quote for c in answer.citations)


def test_model_says_it_does_not_know(llm, llm_sanad):
    llm.replies.append({"text": "NO_ANSWER"})
    answer = llm_sanad.ask(QUESTION)
    assert answer.abstained and answer.citations == [] and answer.answerer == "llm"


def test_weak_evidence_abstains_without_calling_the_model(llm, llm_sanad):
    answer = llm_sanad.ask("من فاز بكأس العالم لكرة القدم؟")
    assert answer.abstained and llm.requests == []


def test_streamed_answer_grows_then_is_checked(llm, llm_sanad):
    llm.replies.append({"text": "وزير الداخلية الروسي هو فلاديمير كولوكولتسيف [1]."})
    retrieved = llm_sanad.retrieve(QUESTION)
    parts = list(llm_sanad.answerer.stream_answer(QUESTION, retrieved))
    texts, final = parts[:-1], parts[-1]
    assert len(texts) >= 3 and all(a in b for a, b in zip(texts, texts[1:]))
    assert final.answerer == "llm" and final.citations and llm.requests[0]["stream"] is True


def test_english_question_gets_an_english_prompt(seeded):
    from rag.answer.llm import build_messages

    hits = seeded.search(QUESTION, 2)
    english = build_messages("Who is the Russian interior minister?", hits)
    arabic = build_messages(QUESTION, hits)
    assert "Answer in English" in english[0][1] and "Question:" in english[1][1]
    assert "أجب بالعربية" in arabic[0][1] and "[2] " in arabic[1][1]


def test_eval_runs_with_the_llm_answerer(llm, tmp_path, cache_dir, embedder):
    embedder.model_path()
    llm.default = {"text": "فلاديمير كولوكولتسيف [1]."}
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "h"), "SANAD_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1",
           "SANAD_LLM_BASE_URL": llm.base_url, "SANAD_LLM_API_KEY": API_KEY, "SANAD_LLM_MAX_RETRIES": "0"}
    data = Path(__file__).parent / "data" / "seeds_questions.jsonl"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "eval", str(data), "--answerer", "llm", "--corpus",
                           str(SEEDS_DIR), "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["questions"] == len(data.read_text().splitlines()) and llm.requests
    rows = {r["id"]: r for r in report["rows"]}
    assert "كولوكولتسيف" in rows["s1"]["answer"]
    assert API_KEY not in proc.stderr + proc.stdout
