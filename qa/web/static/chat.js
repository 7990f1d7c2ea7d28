// The web chat's client script: plain browser JavaScript, no build step.
// qa.web.chat adds it to the page once gradio has rendered it (demo.load runs a small loader that
// inserts <script src="/qa-static/chat.js">), and it runs once per page load. It talks to the app's
// own API (/chat, /article) over gradio's HTTP protocol (POST .../call/NAME, then read the event
// stream). All HTML it inserts comes from the server, which escapes every piece of article text,
// or is set with textContent.
(() => {
  if (window.__qaChat) return;
  window.__qaChat = true;
  const STORE = "qa-conversation-v1", LANGKEY = "qa-lang";
  const T = {
    en: {export: "Export .md", new: "New conversation", empty: "Ask a question about the articles.",
      empty2: "Answers quote the articles; click a [n] or a source to read the article.",
      placeholder: "Ask a question…", question: "Question", ask: "Ask", stop: "Stop",
      hint: "<kbd>Enter</kbd> send · <kbd>Shift+Enter</kbd> new line · <kbd>↑</kbd> previous question · <kbd>Esc</kbd> stop · <kbd>Ctrl+K</kbd> focus",
      close: "Close", thinking: "Thinking", queued: "Queued", stopped: "Stopped.", interrupted: "Not answered: the page was reloaded.",
      copy: "Copy", copied: "Copied", answer: "Answer", you: "You", filter: "Date filter on", filter_clear: "Turn the date filter off",
      language: "Language", lang_auto: "Browser default", tabs: ["Chat", "Articles", "Settings"],
      files: "Add articles (.txt, .md, .html, .json, .jsonl, .pdf, .docx; at most 5 MB each)", add: "Add to index",
      removeLabel: "Remove articles", remove: "Remove", undo: "Undo", k: "Passages to read per question",
      from: "From date", to: "Until date", datePh: "YYYY, YYYY-MM or YYYY-MM-DD", reader: "Article",
      failed: "The answer could not be fetched", export_title: "Conversation", sources: "Sources"},
    nl: {export: "Exporteer .md", new: "Nieuw gesprek", empty: "Stel een vraag over de artikelen.",
      empty2: "Antwoorden citeren de artikelen; klik op een [n] of een bron om het artikel te lezen.",
      placeholder: "Stel een vraag…", question: "Vraag", ask: "Vraag", stop: "Stop",
      hint: "<kbd>Enter</kbd> versturen · <kbd>Shift+Enter</kbd> nieuwe regel · <kbd>↑</kbd> vorige vraag · <kbd>Esc</kbd> stoppen · <kbd>Ctrl+K</kbd> naar het vak",
      close: "Sluiten", thinking: "Bezig met zoeken", queued: "In de wachtrij", stopped: "Gestopt.", interrupted: "Niet beantwoord: de pagina werd herladen.",
      copy: "Kopiëren", copied: "Gekopieerd", answer: "Antwoord", you: "Jij", filter: "Datumfilter aan", filter_clear: "Datumfilter uitzetten",
      language: "Taal", lang_auto: "Zoals de browser", tabs: ["Gesprek", "Artikelen", "Instellingen"],
      files: "Artikelen toevoegen (.txt, .md, .html, .json, .jsonl, .pdf, .docx; hoogstens 5 MB per bestand)", add: "Aan de index toevoegen",
      removeLabel: "Artikelen verwijderen", remove: "Verwijderen", undo: "Ongedaan maken", k: "Passages per vraag",
      from: "Vanaf datum", to: "Tot en met datum", datePh: "JJJJ, JJJJ-MM of JJJJ-MM-DD", reader: "Artikel",
      failed: "Het antwoord kon niet worden opgehaald", export_title: "Gesprek", sources: "Bronnen"},
  };
  // gradio's own words, both ways, so its labels agree with the language chosen here
  const GR = [["Drop File Here", "Sleep een bestand hier"], ["Click to Upload", "Klik om te uploaden"],
    ["- or -", "- of -"], ["Use via API", "Gebruik via API"], ["Clear", "Wissen"], ["Loading...", "Laden..."]];
  const $ = (s, r) => (r || document).querySelector(s);
  const browserLang = () => ((navigator.language || "en").toLowerCase().startsWith("nl") ? "nl" : "en");
  let lang = localStorage.getItem(LANGKEY) || browserLang();
  if (!T[lang]) lang = "en";
  const tr = (k) => T[lang][k] ?? T.en[k] ?? k;
  const base = (() => {
    const r = (window.gradio_config && window.gradio_config.root) || "";
    return (r || location.href.replace(/[?#].*$/, "")).replace(/\/$/, "");
  })();

  let conv = [];
  try { conv = JSON.parse(localStorage.getItem(STORE) || "[]"); if (!Array.isArray(conv)) conv = []; } catch { conv = []; }
  for (const t of conv) if (t.state === "queued" || t.state === "thinking") { t.state = "interrupted"; }
  // Kept in localStorage; when it is full the oldest turns are left out of what is stored.
  const save = () => {
    for (let skip = 0; skip <= conv.length; skip = Math.max(1, skip * 2)) {
      try { localStorage.setItem(STORE, JSON.stringify(conv.slice(skip).map(({el, ...rest}) => rest))); return; }
      catch { if (skip >= conv.length) return; }
    }
  };
  let busy = null;  // {turn, ctrl}
  let recall = -1;

  // `job`, if given, gets what /gradio_api/cancel needs to stop the run on the server too.
  async function call(name, data, onData, signal, job) {
    const session_hash = Math.random().toString(36).slice(2) + Date.now().toString(36);
    const r = await fetch(`${base}/gradio_api/call/${name}`, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({data, session_hash}), signal, credentials: "same-origin"});
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    const {event_id} = await r.json();
    if (job) {
      const dep = ((window.gradio_config && window.gradio_config.dependencies) || []).find((d) => d.api_name === name);
      Object.assign(job, {session_hash, event_id, fn_index: dep ? dep.id : null});
    }
    const s = await fetch(`${base}/gradio_api/call/${name}/${event_id}`, {signal, credentials: "same-origin"});
    const reader = s.body.getReader(); const dec = new TextDecoder(); let buf = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        let ev = "", dat = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) ev = line.slice(6).trim();
          else if (line.startsWith("data:")) dat += line.slice(5).trim();
        }
        if (ev === "error") throw new Error(dat || "error");
        if ((ev === "generating" || ev === "complete") && dat && dat !== "null") onData(JSON.parse(dat)[0], ev === "complete");
        if (ev === "complete") return;
      }
    }
  }

  function field(id) { return $(`#${id} input, #${id} textarea`); }
  function settings() {
    const k = field("qa-k"); const f = field("qa-from"); const t = field("qa-to");
    return {k: k ? Number(k.value) || 5 : 5, from: f ? f.value.trim() : "", to: t ? t.value.trim() : ""};
  }
  function showFilter() {
    const s = settings(); const chip = $("#qa-filter");
    if (!chip) return;
    chip.hidden = !(s.from || s.to);
    $("#qa-filter-text").textContent = `${tr("filter")}: ${s.from || "…"} – ${s.to || "…"}`;
  }
  function setField(id, v) {
    const el = field(id); if (!el) return;
    el.value = v; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}));
  }

  function render(turn) {
    const log = $("#qa-log"); if (!log) return;
    if (!turn.el) {
      turn.el = document.createElement("div"); turn.el.className = "qa-turn";
      const u = document.createElement("div"); u.className = "qa-user"; u.setAttribute("role", "article");
      u.setAttribute("aria-label", `${tr("you")}: ${turn.q}`); u.textContent = turn.q;
      const b = document.createElement("div"); b.className = "qa-bot"; b.setAttribute("role", "article");
      turn.el.append(u, b); log.append(turn.el);
    }
    const b = turn.el.querySelector(".qa-bot");
    b.setAttribute("aria-label", `${tr("answer")}: ${(turn.text || "").split("\n")[0].slice(0, 300)}`);
    if (turn.state === "queued") { b.innerHTML = `<span class="qa-state">${tr("queued")}</span>`; }
    else if (turn.state === "thinking" && !turn.html) { b.innerHTML = `<span class="qa-state qa-thinking">${tr("thinking")}</span>`; }
    else {
      b.innerHTML = turn.html || "";  // server HTML: every piece of article text is escaped there
      if (turn.state === "stopped" || turn.state === "interrupted") {
        const s = document.createElement("div"); s.className = "qa-state"; s.textContent = tr(turn.state); b.append(s);
      }
      if (turn.state === "done") {
        const bar = document.createElement("div"); bar.className = "qa-msgbar";
        const c = document.createElement("button"); c.type = "button"; c.className = "qa-copy"; c.textContent = tr("copy");
        c.addEventListener("click", () => copy(turn.text || "", c));
        bar.append(c); b.append(bar);
      }
    }
    $("#qa-empty") && ($("#qa-empty").hidden = conv.length > 0);
  }
  function scrollDown() { const log = $("#qa-log"); if (log) log.scrollTop = log.scrollHeight; }
  function renderAll() {
    const log = $("#qa-log"); if (!log) return;
    log.querySelectorAll(".qa-turn").forEach((n) => n.remove());
    for (const t of conv) { t.el = null; render(t); }
    $("#qa-empty").hidden = conv.length > 0; scrollDown();
  }

  async function copy(text, btn) {
    try { await navigator.clipboard.writeText(text); }
    catch {
      const ta = document.createElement("textarea"); ta.value = text; document.body.append(ta); ta.select();
      document.execCommand("copy"); ta.remove();
    }
    if (btn) { btn.textContent = tr("copied"); setTimeout(() => (btn.textContent = tr("copy")), 1500); }
  }

  function ask(q) {
    q = (q || "").trim(); if (!q) return;
    const turn = {q, state: "queued", html: "", text: "", md: ""};
    conv.push(turn); render(turn); scrollDown(); save(); pump();
  }
  async function pump() {
    if (busy) return;
    const turn = conv.find((t) => t.state === "queued");
    if (!turn) { $("#qa-stop").hidden = true; $("#qa-send").hidden = false; return; }
    const ctrl = new AbortController(); busy = {turn, ctrl, job: {}};
    $("#qa-stop").hidden = false; $("#qa-send").hidden = true;
    turn.state = "thinking"; render(turn); scrollDown();
    const s = settings();
    const history = conv.filter((t) => t.state === "done" && t !== turn && conv.indexOf(t) < conv.indexOf(turn)).map((t) => t.q);
    try {
      await call("chat", [turn.q, history, s.k, s.from, s.to, lang], (d) => {
        const part = typeof d === "string" ? JSON.parse(d) : d;
        turn.html = part.html; turn.text = part.text; turn.md = part.md || turn.md;
        if (part.done) turn.state = "done";
        render(turn); scrollDown();
      }, ctrl.signal, busy.job);
      if (turn.state !== "done") turn.state = "done";
    } catch (e) {
      if (ctrl.signal.aborted) { turn.state = "stopped"; }
      else { turn.state = "done"; turn.html = `<div class="qa-error" role="alert"></div>`; turn.text = `${tr("failed")}: ${e.message}`;
             render(turn); turn.el.querySelector(".qa-error").textContent = turn.text; }
    }
    render(turn); save(); busy = null; pump();
  }
  function stop() {
    if (!busy) return;
    for (const t of conv) if (t.state === "queued") { t.state = "stopped"; render(t); }
    const job = busy.job;
    busy.ctrl.abort();
    if (job && job.event_id && job.fn_index !== null) {  // end the generation on the server as well
      fetch(`${base}/gradio_api/cancel`, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(job), credentials: "same-origin"}).catch(() => {});
    }
  }

  let readerSeq = 0, readerFrom = null;
  async function openReader(a, s, e) {
    const box = $("#qa-reader"), body = $("#qa-reader-body");
    if (!box) return;
    if (box.hidden) readerFrom = document.activeElement;
    const mine = ++readerSeq;  // a later click wins over a slower earlier answer
    body.textContent = "…"; box.hidden = false; $("#qa-reader-close").focus({preventScroll: true});
    try {
      await call("article", [a, Number(s), Number(e), lang], (html) => {
        if (mine === readerSeq) body.innerHTML = html;  // server HTML, escaped there
      });
      if (mine !== readerSeq) return;
      const m = $("#qa-cited", body);
      if (m) { m.scrollIntoView({block: "center"}); m.classList.add("qa-flash"); }
      else body.scrollTop = 0;
    } catch (err) { body.textContent = `${tr("failed")}: ${err.message}`; }
  }
  function closeReader() {
    const box = $("#qa-reader");
    if (!box || box.hidden) return false;
    box.hidden = true;
    if (readerFrom && readerFrom.focus) readerFrom.focus({preventScroll: true});  // back where the reader was opened
    return true;
  }

  function exportMd() {
    const lines = [`# ${tr("export_title")} — ${new Date().toISOString().slice(0, 16).replace("T", " ")}`, ""];
    for (const t of conv) {
      if (t.md) lines.push(t.md);
      else lines.push(`### ${t.q}`, "", t.text || "", "");
    }
    const blob = new Blob([lines.join("\n")], {type: "text/markdown"});
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob);
    a.download = `qa-conversation-${new Date().toISOString().slice(0, 10)}.md`; document.body.append(a); a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function translateGradio() {
    const root = document.querySelector("gradio-app") || document.body;
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (n.parentElement && n.parentElement.closest("#qa-chatpanel, #qa-reader, .qa-answer")) continue;
      const v = n.nodeValue.trim(); if (!v) continue;
      for (const [en, nl] of GR) {
        const want = lang === "nl" ? nl : en, other = lang === "nl" ? en : nl;
        if (v === other) n.nodeValue = n.nodeValue.replace(other, want);
      }
    }
  }
  // Idempotent setters: the MutationObserver below calls applyLang, which must not loop.
  const setText = (el, v) => { if (el && el.textContent !== v) el.textContent = v; };
  function label(id, text, ph) {
    const el = document.getElementById(id); if (!el) return;
    const l = el.querySelector('[data-testid="block-info"], [data-testid="block-label"]');
    if (l) {
      const tn = [...l.childNodes].find((c) => c.nodeType === 3 && c.nodeValue.trim());
      if (tn) { if (tn.nodeValue !== text) tn.nodeValue = text; } else setText(l, text);
    }
    if (ph) el.querySelectorAll("input[type=text], textarea").forEach((i) => (i.placeholder = ph));
  }
  function applyLang() {
    document.documentElement.setAttribute("data-qa-lang", lang);
    if (document.documentElement.getAttribute("lang") !== lang) document.documentElement.setAttribute("lang", lang);
    document.querySelectorAll("[data-i18n]").forEach((el) => setText(el, tr(el.dataset.i18n)));
    document.querySelectorAll("[data-i18n-html]").forEach((el) => {
      if (el.dataset.lang !== lang) { el.innerHTML = tr(el.dataset.i18nHtml); el.dataset.lang = lang; } });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => (el.placeholder = tr(el.dataset.i18nPlaceholder)));
    document.querySelectorAll("[data-i18n-aria]").forEach((el) => el.setAttribute("aria-label", tr(el.dataset.i18nAria)));
    document.querySelectorAll("[data-i18n-title]").forEach((el) => (el.title = tr(el.dataset.i18nTitle)));
    const tabs = document.querySelectorAll('#qa-tabs [role="tab"]');
    tabs.forEach((b, i) => { if (tr("tabs")[i]) setText(b, tr("tabs")[i]); });
    label("qa-files", tr("files")); label("qa-remove-dd", tr("removeLabel")); label("qa-k", tr("k"));
    label("qa-from", tr("from"), tr("datePh")); label("qa-to", tr("to"), tr("datePh"));
    for (const [id, k] of [["qa-add", "add"], ["qa-remove", "remove"], ["qa-undo", "undo"]]) {
      const b = document.getElementById(id); if (b) setText(b, tr(k));
    }
    const sel = $("#qa-lang-select"); if (sel) sel.value = localStorage.getItem(LANGKEY) || "auto";
    translateGradio(); showFilter();
  }

  function init() {
    if (!$("#qa-q") || !document.querySelector('#qa-tabs [role="tab"]')) { setTimeout(init, 50); return; }
    const box = $("#qa-q");
    document.body.append($("#qa-reader"));  // out of the Chat tab: the Articles tab opens it too
    const send = () => { const v = box.value; box.value = ""; autosize(); recall = -1; ask(v); };
    const autosize = () => { box.style.height = "auto"; box.style.height = Math.min(box.scrollHeight, 160) + "px"; };
    box.addEventListener("input", () => { recall = -1; autosize(); });  // edited: no longer a recalled question
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
      // ↑ recalls only into an empty box (or while walking the history): typed text is never lost
      else if (e.key === "ArrowUp" && (box.value === "" || recall >= 0) && !box.value.slice(0, box.selectionStart).includes("\n")) {
        const qs = conv.map((t) => t.q); if (!qs.length) return;
        e.preventDefault(); recall = recall < 0 ? qs.length - 1 : Math.max(0, recall - 1);
        box.value = qs[recall]; autosize(); box.setSelectionRange(box.value.length, box.value.length);
      } else if (e.key === "ArrowDown" && recall >= 0) {
        const qs = conv.map((t) => t.q); e.preventDefault(); recall += 1;
        if (recall >= qs.length) { recall = -1; box.value = ""; } else box.value = qs[recall];
        autosize();
      }
    });
    $("#qa-send").addEventListener("click", send);
    $("#qa-stop").addEventListener("click", stop);
    $("#qa-new").addEventListener("click", () => { stop(); conv = []; save(); renderAll(); box.focus({preventScroll: true}); });
    $("#qa-export").addEventListener("click", exportMd);
    $("#qa-filter-clear").addEventListener("click", () => { setField("qa-from", ""); setField("qa-to", ""); setTimeout(showFilter, 50); });
    $("#qa-reader-close").addEventListener("click", closeReader);
    $("#qa-reader").addEventListener("click", (e) => { if (e.target.id === "qa-reader") closeReader(); });
    document.querySelectorAll(".qa-example").forEach((b) => b.addEventListener("click", () => ask(b.textContent)));
    document.addEventListener("click", (e) => {
      const a = e.target.closest && e.target.closest("a.qa-cite, a.qa-open");
      if (!a) return;
      e.preventDefault(); e.stopPropagation();
      openReader(a.dataset.a, a.dataset.s, a.dataset.e);
    }, true);
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K")) {
        e.preventDefault();
        const tab = document.querySelector('#qa-tabs [role="tab"]');
        if (!$("#qa-q").offsetParent && tab) tab.click();
        setTimeout(() => $("#qa-q").focus(), 0);
      } else if (e.key === "Escape") {
        if (closeReader()) return;
        if (busy) { e.preventDefault(); stop(); }
      }
    });
    document.addEventListener("input", (e) => { if (e.target.closest && e.target.closest("#qa-from, #qa-to")) showFilter(); }, true);
    // Settings and Articles are rendered when first shown: delegate, and relabel what appears.
    document.addEventListener("change", (e) => {
      if (e.target.id !== "qa-lang-select") return;
      const v = e.target.value;
      if (v === "auto") localStorage.removeItem(LANGKEY); else localStorage.setItem(LANGKEY, v);
      lang = v === "auto" ? browserLang() : v; applyLang(); renderAll();
    });
    new MutationObserver(() => { clearTimeout(window.__qaTr); window.__qaTr = setTimeout(applyLang, 30); })
      .observe(document.querySelector("gradio-app") || document.body, {subtree: true, childList: true, characterData: true});
    applyLang(); renderAll();
    // Focus the box without scrolling the header away.
    box.focus({preventScroll: true}); window.scrollTo(0, 0);
    pump();
  }
  init();
})();
