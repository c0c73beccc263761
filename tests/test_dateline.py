"""Dates from an article's dateline (rag/dateline.py): real-world shapes, and nothing taken
from a date that is not the dateline's."""

import pytest

from rag.dateline import dateline, find_date
from rag.loaders import load_corpus
from rag.records import Article

SHAPES = {
    "الرياض - 12 مارس 2015": "2015-03-12",  # city dash day month year
    "الأحد 12-03-2017 20:33": "2017-03-12",  # Egyptian papers: numeric, day first, with a time
    "12 آذار/مارس 2017": "2017-03-12",  # Levantine month with its Egyptian twin
    "بيروت - الثلاثاء 3 تشرين الثاني 2015": "2015-11-03",  # a two-word Levantine month
    "March 12, 2015 / 8:03 PM": "2015-03-12",  # English wire
    "Published: Thursday, 12 March 2015": "2015-03-12",
    "الأحد - 13 جمادى الآخرة 1438 هـ - 12 مارس 2017 مـ رقم العدد [13985]": "2017-03-12",  # Hijri first
    "الرياض 14 جمادى الآخرة 1438 هـ الموافق 13 مارس 2017 م واس": "2017-03-13",
    "12/3/2017": "2017-03-12",
    "آخر تحديث: 2017-03-12T08:00:00Z": "2017-03-12",
    "الأحد، ١٢ مارس ٢٠١٧ ٠٨:٠٠ م": "2017-03-12",  # Arabic-Indic digits
    "الرباط - 5 يونيو 2016": "2016-06-05",
}


@pytest.mark.parametrize(("line", "date"), SHAPES.items())
def test_dateline_shapes(line, date):
    assert find_date(line) == date


@pytest.mark.parametrize("line", [
    "الخميس 21 جمادى الأولى 1436 هـ",  # a Hijri date alone: no Gregorian date to take
    "في 5 مايو (أيار) من العام المقبل",  # no year
    "1436/5/21هـ",
    "31 فبراير 2015",  # no such day
    "قال المتحدث اليوم إن الاجتماع سيعقد قريبا",  # today is never a date
])
def test_no_date_where_there_is_none(line):
    assert find_date(line) == ""


def test_txt_articles_take_their_dateline_and_only_from_the_top(tmp_path):
    (tmp_path / "a.txt").write_text("عنوان الخبر\nالرياض - 12 مارس 2015\n\nنص الخبر.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("عنوان\n\nنص أول.\nنص ثان.\nنص ثالث.\nنص رابع.\nوقع ذلك في 2 أكتوبر 1910.",
                                    encoding="utf-8")
    (tmp_path / "c.txt").write_text("---\ndate: 2020-01-02\n---\nعنوان\nالرياض - 12 مارس 2015\n\nنص.", encoding="utf-8")
    (tmp_path / "d.md").write_text("# عنوان\n\n*لندن - 3 آب/أغسطس 2019*\n\nنص.", encoding="utf-8")
    got = {a.doc_id: a.date for a in load_corpus(tmp_path, 10**6) if isinstance(a, Article)}
    assert got == {"a": "2015-03-12", "b": "", "c": "2020-01-02", "d": "2019-08-03"}


def test_the_headline_is_not_a_dateline():
    assert dateline("انتخابات 12 مارس 2015 تقترب\n\nقال المرشحون اليوم...") == ""
