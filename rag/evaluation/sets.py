"""Question sets for evaluation runs: the JSONL format (one question a line) and SQuAD v1.1
(its paragraphs become the articles to index)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.loaders import clean_id
from rag.records import Article


@dataclass
class Question:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    about: str = ""  # the title of the article it was written on (SQuAD), kept when made unanswerable
    variety: str = ""  # how it is written: "msa", a dialect ("egyptian", "levantine", ...), "english"
    near_miss: bool = False  # an unanswerable twin of an answerable question: one thing it asks about changed
    history: list[str] = field(default_factory=list)  # a follow-up's earlier questions in the chat, oldest first


def read_jsonl(path: Path) -> list[Question]:
    """The fixed question-set format: one JSON object a line."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            answers = [str(a) for a in rec.get("answers") or []]
            out.append(
                Question(
                    id=str(rec.get("id", f"line{lineno}")),
                    question=str(rec["question"]),
                    answers=answers,
                    answerable=bool(rec.get("answerable", bool(answers))),
                    sources=[clean_id(s) for s in rec.get("sources") or []],
                    variety=str(rec.get("variety") or ""),
                    near_miss=bool(rec.get("near_miss", False)),
                    history=[str(h) for h in rec.get("history") or []],
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} line {lineno}: not a question record ({exc})") from None
    return out


def read_squad(path: Path) -> tuple[list[Article], list[Question]]:
    """SQuAD v1.1: every paragraph an article ``<title>/<index>``, its questions gold on it.
    Paragraphs are numbered per title across entries (TyDi gives each passage an entry of its
    own under its article's title); a paragraph repeated under its title is one article."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles, questions = [], []
    ids: dict[tuple[str, str], str] = {}
    count: dict[str, int] = {}
    for entry in data["data"]:
        title = entry.get("title", "untitled").strip()
        for para in entry["paragraphs"]:
            doc_id = ids.get((title, para["context"]))
            if doc_id is None:
                doc_id = ids[(title, para["context"])] = clean_id(f"{title}/{count.get(title, 0)}")
                count[title] = count.get(title, 0) + 1
                articles.append(Article(doc_id=doc_id, title=title, text=para["context"], source=str(path)))
            for qa in para["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                questions.append(Question(str(qa["id"]), qa["question"], answers, bool(answers), [doc_id], title))
    return articles, questions


def read_questions(path: Path) -> list[Question]:
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_squad(path)[1]
    return read_jsonl(path)


def as_unanswerable(questions: list[Question]) -> list[Question]:
    return [Question(f"unanswerable:{q.id}", q.question, [], False, [], q.about, q.variety) for q in questions]
