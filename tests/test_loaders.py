import json

from rag.loaders import Problem, load_corpus, load_file
from rag.records import Article

LIMIT = 1_000_000


def articles(items):
    return [i for i in items if isinstance(i, Article)]


def problems(items):
    return [i for i in items if isinstance(i, Problem)]


def test_text_file_with_front_matter(tmp_path):
    p = tmp_path / "news.txt"
    p.write_text("---\nid: n1\ndate: 2026-01-01\nsource: جريدة\n---\nالعنوان هنا\n\nنص الخبر.", encoding="utf-8")
    (a,) = articles(load_file(p, LIMIT))
    assert (a.doc_id, a.title, a.date, a.source) == ("n1", "العنوان هنا", "2026-01-01", "جريدة")
    assert a.text == "العنوان هنا\n\nنص الخبر."


def test_markdown_title_and_file_stem_id(tmp_path):
    p = tmp_path / "story.md"
    p.write_text("# عنوان القصة\n\nنص.", encoding="utf-8")
    (a,) = articles(load_file(p, LIMIT))
    assert (a.doc_id, a.title) == ("story", "عنوان القصة")


def test_html_main_text_only(tmp_path):
    p = tmp_path / "page.html"
    body = "<p>" + "افتتحت الوزيرة المحطة الجديدة صباح الأحد في المدينة الساحلية. " * 6 + "</p>"
    p.write_text(
        f"<html><head><title>خبر المحطة</title></head><body><nav>القائمة الرئيسية اتصل بنا</nav>"
        f"<article><h1>خبر المحطة</h1>{body}</article><footer>حقوق النشر محفوظة</footer></body></html>",
        encoding="utf-8",
    )
    (a,) = articles(load_file(p, LIMIT))
    assert "افتتحت الوزيرة" in a.text
    assert "حقوق النشر" not in a.text and "اتصل بنا" not in a.text


def test_jsonl_bad_lines_reported_with_line_numbers(tmp_path):
    p = tmp_path / "batch.jsonl"
    lines = [
        json.dumps({"id": "j1", "title": "أ", "text": "نص أول."}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "j2", "title": "ب"}),
        json.dumps({"id": "j3", "title": "ج", "text": "نص ثالث."}, ensure_ascii=False),
    ]
    p.write_text("\n".join(lines), encoding="utf-8")
    items = list(load_file(p, LIMIT))
    assert [a.doc_id for a in articles(items)] == ["j1", "j3"]
    msgs = [str(x) for x in problems(items)]
    assert any("line 2" in m and "invalid JSON" in m for m in msgs)
    assert any("line 3" in m and "text" in m for m in msgs)


def test_binary_file_is_refused_clearly(tmp_path):
    p = tmp_path / "image.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (prob,) = problems(load_file(p, LIMIT))
    assert "binary" in prob.message and str(p) == prob.path


def test_windows_1256_arabic_is_named(tmp_path):
    p = tmp_path / "legacy.txt"
    p.write_bytes("وزير الداخلية الروسي زار طهران".encode("cp1256"))
    (prob,) = problems(load_file(p, LIMIT))
    assert "not valid UTF-8" in prob.message and "windows-1256" in prob.message and "iconv" in prob.message


def test_empty_and_oversized_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    big = tmp_path / "big.txt"
    big.write_text("ا" * 5000, encoding="utf-8")
    assert "empty" in problems(load_file(empty, LIMIT))[0].message
    assert "over the limit" in problems(load_file(big, 1000))[0].message


def test_bad_file_does_not_stop_the_folder_and_duplicates_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text("عنوان أ\n\nنص أ.", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "a", "text": "نسخة مكررة."}), encoding="utf-8")
    (tmp_path / "d.md").write_text("عنوان د\n\nنص د.", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("x,y")
    items = list(load_corpus(tmp_path, LIMIT))
    assert [a.doc_id for a in articles(items)] == ["a", "d"]
    msgs = [str(p) for p in problems(items)]
    assert any("binary" in m for m in msgs)
    assert any("duplicate article id 'a'" in m for m in msgs)
