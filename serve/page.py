"""The web page (``/``) and the archive page (``/archive``): server-rendered HTML, right to left,
with a little JavaScript (serve/static/page.js) that asks ``POST /ask``, shows each source's
sentence highlighted in its article, and keeps the conversation for follow-ups. Every asset is
served by Sanad: the machine may be offline."""

from __future__ import annotations

from html import escape

HEAD = """<!doctype html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/page.css">
</head>
<body>
<header><h1>سند</h1><a href="/">اسأل</a><a href="/archive">الأرشيف</a></header>
<main>
"""
FOOT = "</main>\n</body>\n</html>\n"


def ask_page() -> str:
    return HEAD.format(title="سند: اسأل الأخبار") + """<form id="ask">
<input id="question" name="question" autocomplete="off" autofocus
       placeholder="اسأل عن الأخبار بأي لهجة أو بالإنجليزية، مثل: من وقع الاتفاقية؟">
<button type="submit">اسأل</button>
<button type="button" id="reset" class="plain">محادثة جديدة</button>
</form>
<div id="answers"></div>
<script src="/static/page.js"></script>
""" + FOOT


def archive_page(docs: list[dict], total: int, offset: int, limit: int, q: str) -> str:
    rows = "\n".join(
        f"<tr><td>{escape(d['title'] or d['doc_id'])}<br><small dir=\"ltr\">{escape(d['doc_id'])}</small></td>"
        f"<td>{escape(d['date'] or '-')}</td><td>{escape(d['source'] or '')}</td></tr>" for d in docs)
    nav = []
    if offset > 0:
        nav.append(f'<a href="/archive?offset={max(0, offset - limit)}&q={escape(q, quote=True)}">السابق</a>')
    if offset + limit < total:
        nav.append(f'<a href="/archive?offset={offset + limit}&q={escape(q, quote=True)}">التالي</a>')
    return HEAD.format(title="سند: الأرشيف") + f"""<form method="get" action="/archive">
<input id="q" name="q" value="{escape(q, quote=True)}" placeholder="ابحث في العناوين">
<button type="submit">ابحث</button>
</form>
<p>{total} مقالًا{f' (من {offset + 1} إلى {min(offset + limit, total)})' if total else ''}</p>
<table><tbody>
{rows}
</tbody></table>
<p>{' · '.join(nav)}</p>
<details id="admin"><summary>للمشرفين: إضافة مقالات ومتابعة مصادر</summary>
<p><input id="token" type="password" autocomplete="off" placeholder="رمز المشرف (SANAD_ADMIN_TOKEN)"></p>
<form id="upload"><input id="file" type="file" accept=".jsonl,.json,.txt">
<button type="submit">أضف المقالات (JSONL)</button></form>
<form id="follow"><input id="feed" dir="ltr" placeholder="https://example.org/rss.xml">
<button type="submit">تابع المصدر</button></form>
<p id="admin-said" role="status"></p>
</details>
<script src="/static/page.js"></script>
""" + FOOT


def docs_page(schema: dict) -> str:
    """The API's reference from its OpenAPI schema, as a page with no outside assets (FastAPI's own
    docs page loads its script from a CDN)."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = ", ".join(p["name"] for p in op.get("parameters", []))
            body = "JSON body" if "requestBody" in op else ""
            doc = (op.get("description") or op.get("summary") or "").strip()
            rows.append(f"<tr><td dir=\"ltr\"><code>{escape(method.upper())} {escape(path)}</code></td>"
                        f"<td dir=\"ltr\">{escape(', '.join(x for x in (params, body) if x))}</td>"
                        f"<td dir=\"ltr\">{escape(doc)}</td></tr>")
    return HEAD.format(title="Sanad API") + f"""<h2 dir="ltr">{escape(schema.get('info', {}).get('title', 'API'))} HTTP API</h2>
<p dir="ltr">The machine-readable schema: <a href="/openapi.json">/openapi.json</a>. Admin calls need
<code>Authorization: Bearer $SANAD_ADMIN_TOKEN</code>.</p>
<table><tbody>
{chr(10).join(rows)}
</tbody></table>
""" + FOOT
