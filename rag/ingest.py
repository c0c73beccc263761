"""The writing half of ``Sanad`` (rag/engine.py): imports, syndicated copies, removals,
starting over, all under the writer lock. Every article reaches the article store
(rag/articles.py) before its chunks reach the index (rag/store.py); the keyword index follows.
A mixin: its methods are ``Sanad``'s own, reading the engine's store, embedder and settings."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path

from config import SEEDS_DIR
from rag.articles import BACKFILL, StoredArticle, stored
from rag.chunking import article_hash, chunk_article, passage_text
from rag.loaders import Problem, count_records, iter_files, load_corpus
from rag.locking import writer_lock
from rag.normalize import strip_marks
from rag.progress import Progress
from rag.records import Article, Chunk, IngestReport
from rag.store import VectorStore, chunk_meta

log = logging.getLogger("rag.engine")


DEMO_PREFIX = str(SEEDS_DIR) + "/"
LOOKUP_BATCH = 64  # articles whose stored chunks are fetched in one call
WRITE_BATCHES = 8  # embedding batches per write: fewer, fuller model calls; a crash loses at most one write
PROBE = 24  # indexed articles read back before an import (as `sanad check` samples)


class Ingestion:
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
            self.ingest_articles(articles(), report=report, progress=progress, total=total, keep_demo=keep_demo)
            if prune:
                for doc_id in sorted(set(self.doc_ids()) - keep):
                    self.remove(doc_id)
                    report.removed.append(doc_id)
        return report

    def ingest_articles(
        self, articles: Iterable[Article], report: IngestReport | None = None, progress: bool = False,
        total: int | None = None, originals: bool = False, keep_demo: bool = False,
    ) -> IngestReport:
        """Ingest articles (any iterable: read LOOKUP_BATCH at a time); ``progress`` shows a bar
        with articles/s and the time left (of ``total``, or of the list given) on a terminal, a line
        every ``progress_every`` seconds elsewhere (rag/progress.py). ``originals``:
        none of them is a copy of another (they come from the article store or an export), so
        copy detection only records their signatures. The bundled demo articles (``seeds/``) stay
        only while the user has nothing of their own: the first import that adds or replaces an
        article of the user's (files, an upload, a feed) removes them (``report.demo_removed``),
        unless ``keep_demo``."""
        report = report or IngestReport()
        if total is None and isinstance(articles, (list, tuple)):
            total = len(articles)
        source = iter(articles)
        s = self.settings
        batch: list[tuple[Article, list[Chunk], dict, str]] = []
        bar = Progress(total, s.progress_every, lambda: len(report.errors)) if progress else None
        with self.writing() as held:
            self._note_backfill()
            self._probe()
            before = self.embedder.embedded_count
            start_gen = self.store.generation()
            copies = self.copies(start_gen) if s.dedupe else None
            self._changes = ([], [])  # (added keyword entries, removed chunk ids), filled by _write_batch
            self._signatures = {}  # signatures of the batch's originals, written before their chunks
            self.store.bump_generation()  # any keyword index is stale from here on
            done = False
            seen: set[str] = set()
            own = False  # an article of the user's (not a bundled demo one) was written
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
                        own = own or not article.path.startswith(DEMO_PREFIX)
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
                if own and not keep_demo:
                    for doc_id in self.articles.under(str(SEEDS_DIR)):
                        if doc_id not in seen:
                            self.remove(doc_id)
                            report.demo_removed.append(doc_id)
            report.passages_embedded = self.embedder.embedded_count - before
        log.info("ingest: %s", report.summary())
        return report

    def _probe(self) -> None:
        """Read back a few indexed articles' chunks and vectors before writing: an index whose
        vectors cannot be read (a truncated vector file) is reported, with ``sanad repair``,
        instead of taking more articles it could not answer from."""
        if self.articles.exists:
            sample = [doc_id for doc_id, _ in self.articles.sample(PROBE)]
            if sample:
                self.store.docs_chunks(sample)  # a StoreError names sanad check / sanad repair

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
