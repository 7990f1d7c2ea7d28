"""The web chat's page assets: CSS, the static HTML shells and the chat client script.

Kept apart from qa/ui.py so the Python there stays readable; nothing here imports anything.
The script is plain browser JavaScript, run once per page load by `demo.load(js=...)`; it talks
to the app's own API (/chat, /article) over gradio's HTTP protocol (POST .../call/NAME, then
read the event stream). All HTML it inserts comes from the server, which escapes every piece of
article text, or is set with textContent.
"""

CSS = r"""
.gradio-container {max-width: 1100px !important; width: 100% !important; margin: auto !important;}
/* gradio scopes custom rules inside media queries to its content, so the page padding narrows
   with the viewport here instead: 8 px on a phone, gradio's 32 px on a desktop */
.gradio-container .main.fillable.app {padding-left: clamp(8px, calc(4vw - 8px), 32px) !important;
  padding-right: clamp(8px, calc(4vw - 8px), 32px) !important;}
html[data-qa-lang="nl"] .qa-l-en, html:not([data-qa-lang="nl"]) .qa-l-nl {display: none !important;}
#qa-header h1 {margin: 0 0 2px 0; font-size: 1.6em;}
#qa-header p {margin: 0; opacity: .75;}
#qa-chat .html-container {padding-top: 0 !important;}
#qa-chatpanel {display: flex; flex-direction: column; gap: 8px; min-width: 0; width: 100%;}
.gradio-container main.contain {width: 100%;}
#qa-toolbar {display: flex; flex-wrap: wrap; gap: 6px; align-items: center; justify-content: flex-end;}
#qa-toolbar button, .qa-example, .qa-msgbar button, #qa-reader-close, #qa-filter-clear {
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); border-radius: 8px; padding: 4px 10px; font-size: .88em; cursor: pointer;}
#qa-toolbar button:hover, .qa-example:hover, .qa-msgbar button:hover {border-color: var(--color-accent);}
#qa-filter {margin-right: auto; font-size: .88em; background: #fef3c7; color: #78350f; border-radius: 8px;
  padding: 3px 8px; display: inline-flex; gap: 6px; align-items: center;}
#qa-filter[hidden] {display: none;}
#qa-filter-clear {padding: 0 6px; background: transparent; color: inherit; border-color: #d6a647;}
#qa-log {height: min(56vh, 600px); overflow-y: auto; overflow-x: hidden; border: 1px solid var(--border-color-primary);
  border-radius: 12px; padding: 12px; background: var(--background-fill-primary); overscroll-behavior: contain;}
#qa-empty {padding: 28px 8px; text-align: center; opacity: .85;}
#qa-empty .qa-examples {display: flex; flex-wrap: wrap; gap: 6px; justify-content: center; margin-top: 10px;}
.qa-turn {margin: 0 0 14px 0; min-width: 0;}
.qa-user {margin-left: auto; max-width: 85%; width: fit-content; background: var(--color-accent-soft);
  border-radius: 12px 12px 2px 12px; padding: 6px 12px; overflow-wrap: anywhere; white-space: pre-wrap;}
.qa-bot {margin-top: 6px; max-width: 100%; border: 1px solid var(--border-color-primary); border-radius: 12px 12px 12px 2px;
  padding: 8px 12px; background: var(--background-fill-secondary); min-width: 0; overflow-wrap: anywhere;}
.qa-state {font-size: .85em; opacity: .7; font-style: italic;}
.qa-thinking::after {content: ""; display: inline-block; width: 1.2em; text-align: left;
  animation: qa-dots 1.2s steps(4, end) infinite;}
@keyframes qa-dots {0% {content: "";} 25% {content: ".";} 50% {content: "..";} 75% {content: "...";}}
.qa-msgbar {display: flex; gap: 6px; margin-top: 6px;}
.qa-msgbar button {font-size: .8em; padding: 2px 8px;}
#qa-inputrow {display: flex; gap: 8px; align-items: flex-end; min-width: 0;}
#qa-q {flex: 1; min-width: 0; resize: none; font: inherit; padding: 10px 12px; border-radius: 10px;
  border: 1px solid var(--border-color-primary); background: var(--input-background-fill); color: var(--body-text-color);
  max-height: 160px;}
#qa-q:focus {outline: 2px solid var(--color-accent); outline-offset: 0;}
#qa-send, #qa-stop {border-radius: 10px; padding: 10px 16px; font-weight: 600; cursor: pointer; border: none;}
#qa-send {background: var(--button-primary-background-fill); color: var(--button-primary-text-color);}
#qa-stop {background: #b91c1c; color: #fff;}
#qa-stop[hidden], #qa-send[hidden] {display: none;}
#qa-hint {font-size: .78em; opacity: .65;}
#qa-hint kbd {font-family: inherit; border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 0 4px;}
.qa-q {margin: 0;}
.qa-answer {line-height: 1.55; min-width: 0;}
.qa-text {font-size: 1.02em;}
.qa-text sup {font-size: .72em; font-weight: 600; margin-left: 1px;}
.qa-cite {color: var(--color-accent); text-decoration: none; cursor: pointer;}
.qa-cite:hover, .qa-cite:focus {text-decoration: underline;}
.qa-notfound {opacity: .85; font-style: italic;}
.qa-confrow {margin-top: 6px;}
.qa-conf {display: inline-block; font-size: .8em; border-radius: 999px; padding: 1px 9px; border: 1px solid currentColor;}
.qa-conf-high {color: #15803d;} .qa-conf-medium {color: #a16207;} .qa-conf-low, .qa-conf-na {color: #b91c1c;}
.qa-sources {margin-top: 10px; border-top: 1px solid var(--border-color-primary); padding-top: 6px;}
.qa-sources > summary {cursor: pointer; font-weight: 600; font-size: .9em; opacity: .85;}
.qa-srclist {list-style: none; margin: 0; padding: 0;}
.qa-src {margin: 6px 0; border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 6px 10px; background: var(--background-fill-primary); min-width: 0;}
.qa-src > summary {cursor: pointer; font-size: .92em; overflow-wrap: anywhere;}
.qa-n {font-weight: 700; color: var(--color-accent); margin-right: 6px;}
.qa-title {font-weight: 600; color: inherit; text-decoration: underline dotted; overflow-wrap: anywhere;}
.qa-meta {display: block; opacity: .7; font-size: .86em; margin-top: 2px;}
.qa-srcurl {font-size: .85em; margin-top: 4px; overflow-wrap: anywhere;}
.qa-passage {margin-top: 6px; font-size: .9em; max-height: 240px; overflow-y: auto; overflow-wrap: anywhere;}
.qa-passage mark, .qa-reader-text mark {background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px;}
.qa-error {color: #b91c1c;}
.qa-note {font-size: .85em; opacity: .75; margin-top: 4px;}
.qa-filter-note {color: #92400e; opacity: 1;}
.qa-msg-ok {color: #15803d;}
.qa-msg-bad {color: #b91c1c;}
.qa-progress {display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; color: var(--body-text-color);}
.qa-progress progress {width: min(320px, 100%); height: 12px;}
.qa-tablewrap {overflow-x: auto; max-width: 100%;}
table.qa-articles {width: 100%; border-collapse: collapse; font-size: .92em;}
table.qa-articles th, table.qa-articles td {text-align: left; padding: 6px 8px; border: none !important;
    border-bottom: 1px solid var(--border-color-primary) !important; vertical-align: top; overflow-wrap: anywhere;}
table.qa-articles th {font-weight: 600; opacity: .8;}
table.qa-articles td.num {text-align: right;}
table.qa-articles code {font-size: .85em; opacity: .75;}
#qa-reader {position: fixed; inset: 0; z-index: 1000; background: rgba(15, 23, 42, .45); display: flex;
  align-items: center; justify-content: center; padding: 12px;}
#qa-reader[hidden] {display: none;}
#qa-reader-box {background: var(--background-fill-primary); color: var(--body-text-color); border-radius: 12px;
  width: min(760px, 100%); max-height: calc(100vh - 24px); display: flex; flex-direction: column;
  box-shadow: 0 10px 40px rgba(0,0,0,.3);}
#qa-reader-head {display: flex; justify-content: flex-end; padding: 8px 10px 0 10px;}
#qa-reader-body {overflow: hidden; padding: 0 18px 18px 18px; overflow-wrap: anywhere; display: flex;
  flex-direction: column; min-height: 0;}
/* title, date and link stay in view; only the text scrolls (to the cited sentence) */
.qa-reader-article {display: flex; flex-direction: column; min-height: 0;}
.qa-reader-text {overflow-y: auto; min-height: 0; padding-right: 4px;}
#qa-reader-body h2 {margin: 0 0 4px 0; font-size: 1.3em;}
.qa-reader-meta {opacity: .75; font-size: .9em; margin: 0 0 12px 0;}
.qa-reader-text {line-height: 1.6;}
.qa-reader-text mark.qa-flash {animation: qa-flash 1.6s ease-out 1;}
@keyframes qa-flash {0% {background: #f59e0b; box-shadow: 0 0 0 4px #f59e0b;} 100% {background: #fde68a; box-shadow: none;}}
#qa-langrow {display: flex; gap: 10px; align-items: center; flex-wrap: wrap;}
#qa-lang-select {padding: 4px 8px; border-radius: 8px; border: 1px solid var(--border-color-primary);
  background: var(--input-background-fill); color: var(--body-text-color);}
@media (max-width: 640px) {
  #qa-headerblock .html-container {padding-left: 4px !important; padding-right: 4px !important;}
  #qa-chat .html-container {padding-left: 0 !important; padding-right: 0 !important;}
  #qa-header h1 {font-size: 1.3em;}
  #qa-header p {font-size: .88em;}
  #qa-toolbar {flex-wrap: nowrap;}
  #qa-toolbar button {font-size: .8em; padding: 3px 8px; white-space: nowrap;}
  #qa-log {height: max(260px, calc(100dvh - 330px)); padding: 8px;}
  .qa-bot {padding: 8px;}
  .qa-user {max-width: 92%;}
  #qa-hint {display: none;}
}
"""

CHAT_SHELL = """<div id="qa-chatpanel">
<div id="qa-toolbar">
  <span id="qa-filter" hidden><span id="qa-filter-text"></span>
    <button type="button" id="qa-filter-clear" data-i18n-title="filter_clear">✕</button></span>
  <button type="button" id="qa-export" data-i18n="export"></button>
  <button type="button" id="qa-new" data-i18n="new"></button>
</div>
<div id="qa-log" role="log" aria-live="polite" aria-relevant="additions" tabindex="-1">
  <div id="qa-empty"><b data-i18n="empty"></b><div data-i18n="empty2"></div>
    <div class="qa-examples">{EXAMPLES}</div></div>
</div>
<div id="qa-inputrow">
  <textarea id="qa-q" rows="1" maxlength="2000" data-i18n-placeholder="placeholder" data-i18n-aria="question"></textarea>
  <button type="button" id="qa-send" data-i18n="ask"></button>
  <button type="button" id="qa-stop" hidden data-i18n="stop"></button>
</div>
<div id="qa-hint" data-i18n-html="hint"></div>
</div>
<div id="qa-reader" hidden role="dialog" aria-modal="true" aria-labelledby="qa-reader-title">
  <div id="qa-reader-box"><div id="qa-reader-head">
    <button type="button" id="qa-reader-close" data-i18n="close"></button></div>
    <div id="qa-reader-body"></div></div>
</div>"""

SETTINGS_SHELL = """<div id="qa-langrow"><label for="qa-lang-select" data-i18n="language"></label>
<select id="qa-lang-select"><option value="auto" data-i18n="lang_auto"></option>
<option value="en">English</option><option value="nl">Nederlands</option></select></div>"""

JS = r"""
() => {
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
  try { conv = JSON.parse(localStorage.getItem(STORE) || "[]"); if (!Array.isArray(conv)) conv = []; } catch (e) { conv = []; }
  for (const t of conv) if (t.state === "queued" || t.state === "thinking") { t.state = "interrupted"; }
  // Kept in localStorage; when it is full the oldest turns are left out of what is stored.
  const save = () => {
    for (let skip = 0; skip <= conv.length; skip = Math.max(1, skip * 2)) {
      try { localStorage.setItem(STORE, JSON.stringify(conv.slice(skip).map(({el, ...rest}) => rest))); return; }
      catch (e) { if (skip >= conv.length) return; }
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
    catch (e) {
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
}
"""
