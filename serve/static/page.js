// Sanad's page: ask, show the answer with each source's sentence highlighted in its article,
// keep the conversation for follow-ups. No build step, no outside assets.
(function () {
  "use strict";
  const turns = [];  // the conversation: what POST /ask returned as `turn`, oldest first
  const form = document.getElementById("ask");
  if (!form) return;  // the archive page
  const box = document.getElementById("question");
  const out = document.getElementById("answers");
  const FRAME = {
    ar: {sources: "المصادر", related: "مقاطع ذات صلة لا تذكر الجواب", confidence: "الثقة", asking: "…", error: "تعذّر الجواب: "},
    en: {sources: "Sources", related: "Related passages (they do not state the answer)", confidence: "confidence",
         asking: "…", error: "No answer: "},
  };
  const isArabic = (s) => /[\u0600-\u06FF]/.test(s);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids) e.append(kid);
    return e;
  };
  async function context(c) {  // the quoted sentence in its article, a little either side
    try {
      const r = await fetch("/articles/" + encodeURIComponent(c.doc_id));
      if (!r.ok) throw new Error(r.status);
      const a = await r.json();
      const from = Math.max(0, c.start - 220), to = Math.min(a.text.length, c.end + 220);
      return el("div", {class: "context"}, (from > 0 ? "… " : "") + a.text.slice(from, c.start),
                el("mark", {}, a.text.slice(c.start, c.end)), a.text.slice(c.end, to) + (to < a.text.length ? " …" : ""));
    } catch (e) {
      return el("div", {class: "context"}, el("mark", {}, c.quote));
    }
  }
  async function citation(c, n) {
    const meta = [c.date, c.url ? "" : c.doc_id].filter(Boolean).join(" · ");
    const title = c.url ? el("a", {href: c.url, rel: "noopener"}, c.title || c.doc_id) : c.title || c.doc_id;
    return el("div", {class: "source"}, el("div", {class: "title"}, `[${n}] `, title),
              await context(c), el("div", {class: "meta"}, meta));
  }
  async function show(question, data) {
    const lang = isArabic(question) ? "ar" : "en";
    const f = FRAME[lang];
    const card = el("section", {class: "turn" + (data.abstained ? " refused" : ""), dir: lang === "ar" ? "rtl" : "ltr"});
    card.append(el("div", {class: "asked"}, question));
    card.append(el("div", {class: "answer"}, data.answer));
    if (data.band !== "refused") card.append(el("div", {class: "confidence"}, `${f.confidence} ${data.confidence.toFixed(2)}`));
    if (data.citations.length) {
      card.append(el("h3", {}, f.sources));
      for (const [i, c] of data.citations.entries()) card.append(await citation(c, i + 1));
    }
    if (data.related.length) {
      const more = el("details", {}, el("summary", {}, f.related));
      for (const [i, c] of data.related.entries()) more.append(await citation(c, i + 1));
      if (data.band === "closest") more.open = true;
      card.append(more);
    }
    out.prepend(card);
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const question = box.value.trim();
    if (!question) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const r = await fetch("/ask", {method: "POST", headers: {"content-type": "application/json"},
                                     body: JSON.stringify({question, history: turns.slice(-3)})});
      const data = await r.json();
      if (!r.ok) throw new Error(data.error || r.status);
      turns.push(data.turn);
      await show(question, data);
      box.value = "";
    } catch (e) {
      const f = FRAME[isArabic(question) ? "ar" : "en"];
      out.prepend(el("section", {class: "turn refused"}, el("div", {class: "answer"}, f.error + e.message)));
    } finally {
      button.disabled = false;
      box.focus();
    }
  });
  document.getElementById("reset").addEventListener("click", () => { turns.length = 0; out.replaceChildren(); box.focus(); });
})();

// The archive page's admin forms: articles as JSONL and feeds, with the admin token.
(function () {
  "use strict";
  const upload = document.getElementById("upload");
  if (!upload) return;
  const token = document.getElementById("token");
  const said = document.getElementById("admin-said");
  const auth = () => ({authorization: "Bearer " + token.value.trim()});
  async function send(url, options) {
    const r = await fetch(url, options);
    const data = await r.json().catch(() => ({}));
    said.textContent = r.ok ? (data.summary || (data.following ? "✓ " + data.url : "✓")) : (data.error || r.status);
    return r.ok;
  }
  upload.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = document.getElementById("file").files[0];
    if (!file) return;
    if (await send("/articles", {method: "POST", headers: auth(), body: await file.text()})) setTimeout(() => location.reload(), 800);
  });
  document.getElementById("follow").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const url = document.getElementById("feed").value.trim();
    if (url) await send("/feeds", {method: "POST", headers: {...auth(), "content-type": "application/json"},
                                   body: JSON.stringify({url})});
  });
})();
