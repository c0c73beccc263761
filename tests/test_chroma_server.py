"""Sanad against a real `chroma run` server on 127.0.0.1."""

import pytest
from chroma_server import ChromaServer

from rag import StoreError
from rag.records import Article


@pytest.fixture()
def server(tmp_path):
    srv = ChromaServer(tmp_path / "chroma-data").start()
    yield srv
    srv.stop()


def test_ingest_ask_survive_a_server_restart(server, make_sanad, tmp_path, corpus):
    sanad = make_sanad(home=tmp_path / "a", chroma_url=server.url)
    report = sanad.ingest(corpus)
    count = sanad.store.count()
    assert len(report.added) == 6 and count == report.chunks_written
    assert "كولوكولتسيف" in sanad.ask("من هو وزير الداخلية الروسي؟").answer

    server.stop()
    with pytest.raises(StoreError) as err:
        sanad.ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert server.url in str(err.value) and "nothing already ingested is lost" in str(err.value)

    server.start()
    again = make_sanad(home=tmp_path / "b", chroma_url=server.url)
    answer = again.ask("من وقع اتفاقية التعاون بين شرطة البلدين؟")
    assert "رئيسي جهازي الشرطة" in answer.citations[0].quote
    assert again.store.count() == count
    assert again.ingest(corpus).passages_embedded == 0


def test_two_processes_share_one_server_and_stay_consistent(server, make_sanad, tmp_path, corpus):
    writer = make_sanad(home=tmp_path / "writer", chroma_url=server.url)
    # its own keyword index, checked against the shared store on every question
    reader = make_sanad(home=tmp_path / "reader", chroma_url=server.url, keyword_refresh_seconds=0)
    writer.ingest(corpus)
    assert reader.ask("كم تبلغ الطاقة الإنتاجية لمحطة تحلية المياه في الريان؟").citations
    article = Article("observatory", "مرصد سيوة", "مرصد سيوة الفلكي\n\nقال مدير المرصد نبيل الصافي إن المرصد سيفتتح في عام 2029.")
    writer.ingest_articles([article])
    answer = reader.ask("متى سيفتتح مرصد سيوة الفلكي؟")
    assert answer.citations[0].doc_id == "observatory" and "2029" in answer.answer
    assert set(reader.keyword().ids) == {cid for cid, _, _ in reader.store.iter_all()}
    writer.remove("observatory")
    assert all(c.doc_id != "observatory" for c in reader.ask("متى سيفتتح مرصد سيوة الفلكي؟").citations)
