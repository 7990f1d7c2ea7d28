// The web chat's client script: plain browser JavaScript, no build step.
// qa.web.chat adds it to the page once gradio has rendered it (demo.load runs a small loader that
// inserts <script src="/qa-static/chat.js">), and it runs once per page load. It talks to the app's
// own API (/chat, /article, /examples, /feedback) over gradio's HTTP protocol (POST .../call/NAME,
// then read the event stream). All HTML it inserts comes from the server, which escapes every
// piece of article text, or is set with textContent.
//
// Conversations live in this browser's localStorage, one key each ("qa-conv:ID"), so two tabs never
// overwrite each other's list; a tab follows changes another tab makes (the storage event) and
// answers only the questions asked in it.
(() => {
  if (window.__qaChat) return;
  window.__qaChat = true;
  const OLD = "qa-conversation-v1", PREFIX = "qa-conv:", CURRENT = "qa-current-conv", LANGKEY = "qa-lang";
  const MAXQ = 2000, COUNT_FROM = 1500;
  const TAB = Math.random().toString(36).slice(2, 10);  // this page load: the owner of the questions it asks
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
      dateArticle: "Article", dateValue: "Its date", datePh2: "YYYY-MM-DD (empty: no date)", setDate: "Set the date",
      failed: "The answer could not be fetched", offline: "The server cannot be reached; check that qa is running, then retry.",
      lost: "The connection to the server was lost before the answer was complete.",
      retry: "Retry", regenerate: "Regenerate", export_title: "Conversation", sources: "Sources",
      count: "{n} / {max} characters", at_cap: "Limit reached: a question can be at most {max} characters; the rest was cut.",
      convs: "Conversations", search: "Search conversations", rename: "Rename", del: "Delete", untitled: "New conversation",
      deleted: "Deleted “{t}”.", renameLabel: "New name", none: "No conversations yet.", nomatch: "No conversation matches.",
      good: "Good answer", bad: "Bad answer", note: "What was right or wrong? (optional)", send: "Send", thanks: "Thanks: saved.",
      fb_failed: "The feedback could not be saved", within: "Asking within {n} articles", within_clear: "Ask all articles again",
      within_one: "Asking within 1 article", askSel: "Ask within the selected articles", askShown: "Ask within the articles shown",
      artSearch: "Search the articles", pick: "Select {t}", showConvs: "Conversations"},
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
      dateArticle: "Artikel", dateValue: "De datum", datePh2: "JJJJ-MM-DD (leeg: geen datum)", setDate: "Datum instellen",
      failed: "Het antwoord kon niet worden opgehaald", offline: "De server is niet bereikbaar; controleer of qa draait en probeer het opnieuw.",
      lost: "De verbinding met de server viel weg voordat het antwoord klaar was.",
      retry: "Opnieuw proberen", regenerate: "Opnieuw antwoorden", export_title: "Gesprek", sources: "Bronnen",
      count: "{n} / {max} tekens", at_cap: "Limiet bereikt: een vraag is hoogstens {max} tekens; de rest is weggelaten.",
      convs: "Gesprekken", search: "Zoek in gesprekken", rename: "Hernoemen", del: "Verwijderen", untitled: "Nieuw gesprek",
      deleted: "“{t}” verwijderd.", renameLabel: "Nieuwe naam", none: "Nog geen gesprekken.", nomatch: "Geen gesprek gevonden.",
      good: "Goed antwoord", bad: "Slecht antwoord", note: "Wat klopte er wel of niet? (optioneel)", send: "Versturen", thanks: "Bedankt: opgeslagen.",
      fb_failed: "De feedback kon niet worden opgeslagen", within: "Vragen binnen {n} artikelen", within_clear: "Weer alle artikelen doorzoeken",
      within_one: "Vragen binnen 1 artikel", askSel: "Vraag binnen de gekozen artikelen", askShown: "Vraag binnen de getoonde artikelen",
      artSearch: "Zoek in de artikelen", pick: "Kies {t}", showConvs: "Gesprekken"},
  };
  // gradio's own words, both ways, so its labels agree with the language chosen here
  const GR = [["Drop File Here", "Sleep een bestand hier"], ["Click to Upload", "Klik om te uploaden"],
    ["- or -", "- of -"], ["Use via API", "Gebruik via API"], ["Clear", "Wissen"], ["Loading...", "Laden..."],
    ["Error", "Fout"]];
  // gradio's size toast: 'File(s) exceed the maximum allowed size of 5.0 Mb: "x.pdf"'
  const SIZE_TOAST = /^(?:File\(s\) exceed the maximum allowed size of|Te groot \(hoogstens|Too large \(at most) ([\d.]+) ?(?:Mb|MB\)): (.*)$/;
  const $ = (s, r) => (r || document).querySelector(s);
  const browserLang = () => ((navigator.language || "en").toLowerCase().startsWith("nl") ? "nl" : "en");
  let lang = localStorage.getItem(LANGKEY) || browserLang();
  if (!T[lang]) lang = "en";
  const tr = (k, kw) => String(T[lang][k] ?? T.en[k] ?? k).replace(/\{(\w+)\}/g, (m, x) => (kw && x in kw ? kw[x] : m));
  const base = (() => {
    const r = (window.gradio_config && window.gradio_config.root) || "";
    return (r || location.href.replace(/[?#].*$/, "")).replace(/\/$/, "");
  })();

  // ---------------------------------------------------------------- conversations (localStorage)
  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  function loadConv(id) {
    try {
      const c = JSON.parse(localStorage.getItem(PREFIX + id) || "null");
      return c && Array.isArray(c.turns) ? c : null;
    } catch { return null; }
  }
  function listConvs() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(PREFIX)) { const c = loadConv(k.slice(PREFIX.length)); if (c) out.push(c); }
    }
    return out.sort((a, b) => (b.updated || 0) - (a.updated || 0));
  }
  const blank = () => ({id: newId(), title: "", named: false, updated: Date.now(), turns: []});
  try {  // the single conversation of earlier versions becomes the first in the list
    const old = JSON.parse(localStorage.getItem(OLD) || "null");
    if (Array.isArray(old) && old.length) {
      const c = blank(); c.turns = old; c.title = String(old[0].q || "").slice(0, 80);
      localStorage.setItem(PREFIX + c.id, JSON.stringify(c));
    }
    localStorage.removeItem(OLD);
  } catch { /* nothing to carry over */ }
  // This tab's conversation survives a reload (sessionStorage), even while still empty; a new tab opens the latest.
  const curId = sessionStorage.getItem(CURRENT);
  let cur = (curId && (loadConv(curId) || {...blank(), id: curId})) || listConvs()[0] || blank();
  let conv = cur.turns;
  for (const t of conv) if (t.state === "queued" || t.state === "thinking") { t.state = "interrupted"; }
  sessionStorage.setItem(CURRENT, cur.id);
  const titleOf = (c) => c.title || (c.turns[0] && c.turns[0].q.slice(0, 80)) || tr("untitled");
  // Kept in localStorage; when it is full the oldest turns are left out of what is stored.
  const save = () => {
    if (!conv.length && !cur.named) { localStorage.removeItem(PREFIX + cur.id); renderList(); return; }
    cur.updated = Date.now();
    if (!cur.named) cur.title = conv.length ? conv[0].q.slice(0, 80) : "";
    for (let skip = 0; skip <= conv.length; skip = Math.max(1, skip * 2)) {
      const turns = conv.slice(skip).map(({el, ...rest}) => rest);
      try { localStorage.setItem(PREFIX + cur.id, JSON.stringify({...cur, turns})); break; }
      catch { if (skip >= conv.length) break; }
    }
    renderList();
  };
  let busy = null;  // {turn, ctrl, job}
  let recall = -1;
  let follow = null;  // the turn whose top is kept in view while it grows, until the user scrolls
  let scope = [];  // article ids to answer from (empty: all)

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
    if (!s.ok) throw new Error(`${s.status} ${s.statusText}`);
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
        if (ev === "error") throw new Error(dat && dat !== "null" ? dat : tr("failed"));
        if ((ev === "generating" || ev === "complete") && dat && dat !== "null") onData(JSON.parse(dat)[0], ev === "complete");
        if (ev === "complete") return;
      }
    }
    throw new Error(tr("lost"));  // the stream ended without its last event
  }

  function field(id) { return $(`#${id} input, #${id} textarea`); }
  function settings() {
    const k = field("qa-k"); const f = field("qa-from"); const t = field("qa-to");
    return {k: k ? Number(k.value) || 5 : 5, from: f ? f.value.trim() : "", to: t ? t.value.trim() : ""};
  }
  function showFilter() {
    const s = settings(); const chip = $("#qa-filter");
    if (chip) {
      chip.hidden = !(s.from || s.to);
      $("#qa-filter-text").textContent = `${tr("filter")}: ${s.from || "…"} – ${s.to || "…"}`;
    }
    const sc = $("#qa-scope");
    if (sc) {
      sc.hidden = !scope.length;
      $("#qa-scope-text").textContent = scope.length === 1 ? tr("within_one") : tr("within", {n: scope.length});
    }
  }
  function setField(id, v) {
    const el = field(id); if (!el) return;
    el.value = v; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}));
  }

  function button(cls, text, onClick, aria) {
    const b = document.createElement("button"); b.type = "button"; b.className = cls; b.textContent = text;
    if (aria) b.setAttribute("aria-label", aria);
    b.addEventListener("click", onClick); return b;
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
    const typing = document.activeElement && b.contains(document.activeElement) && document.activeElement.matches(".qa-fbnote input");
    b.setAttribute("aria-label", `${tr("answer")}: ${(turn.error || turn.text || "").split("\n")[0].slice(0, 300)}`);
    if (turn.state === "queued") { b.innerHTML = `<span class="qa-state">${tr("queued")}</span>`; }
    else if (turn.state === "thinking" && !turn.html) { b.innerHTML = `<span class="qa-state qa-thinking">${tr("thinking")}</span>`; }
    else {
      b.innerHTML = turn.html || "";  // server HTML: every piece of article text is escaped there
      if (turn.state === "stopped" || turn.state === "interrupted") {
        const s = document.createElement("div"); s.className = "qa-state"; s.textContent = tr(turn.state); b.append(s);
      }
      if (turn.state === "error") {  // set as text, after the server's HTML: nothing overwrites it
        const e = document.createElement("div"); e.className = "qa-error"; e.setAttribute("role", "alert");
        e.textContent = turn.error; b.append(e);
      }
      const bar = document.createElement("div"); bar.className = "qa-msgbar";
      if (turn.state === "done" && !turn.failed) {
        bar.append(button("qa-copy", tr("copy"), (ev) => copy(turn.text || "", ev.currentTarget)));
        for (const [v, icon] of [["up", "👍"], ["down", "👎"]]) {
          const f = button(`qa-fb qa-fb-${v}`, icon, () => feedback(turn, v), tr(v === "up" ? "good" : "bad"));
          f.setAttribute("aria-pressed", turn.fb === v ? "true" : "false"); bar.append(f);
        }
        if (!busy || busy.turn !== turn) bar.append(button("qa-regen", tr("regenerate"), () => again(turn)));
      }
      if (turn.state === "error" || turn.failed || turn.state === "interrupted" || turn.state === "stopped") {
        if (turn.state === "done") bar.append(button("qa-copy", tr("copy"), (ev) => copy(turn.text || "", ev.currentTarget)));
        bar.append(button("qa-retry", tr("retry"), () => again(turn)));
      }
      if (bar.childNodes.length) b.append(bar);
      if (turn.noteOpen) {
        const nb = noteBox(turn); b.append(nb);
        if (typing) { const i = nb.querySelector("input"); i.focus({preventScroll: true}); i.setSelectionRange(i.value.length, i.value.length); }
      }
      if (turn.fbMsg) { const m = document.createElement("div"); m.className = "qa-note"; m.setAttribute("role", "status"); m.textContent = turn.fbMsg; b.append(m); }
    }
    $("#qa-empty") && ($("#qa-empty").hidden = conv.length > 0);
    if (follow === turn) reveal(turn);
  }
  // Scroll the log so the answer's top is in view (with the question's last lines above it); a
  // short answer then sits at the bottom, as the log cannot scroll past its end.
  function reveal(turn) {
    const log = $("#qa-log"); if (!log || !turn.el) return;
    const u = turn.el.querySelector(".qa-user"), b = turn.el.querySelector(".qa-bot");
    const lead = Math.min(u.offsetHeight + 6, log.clientHeight / 3);
    log.scrollTop = Math.max(0, log.scrollTop + b.getBoundingClientRect().top - log.getBoundingClientRect().top - lead - 10);
  }
  function renderAll() {
    const log = $("#qa-log"); if (!log) return;
    log.querySelectorAll(".qa-turn").forEach((n) => n.remove());
    for (const t of conv) { t.el = null; render(t); }
    $("#qa-empty").hidden = conv.length > 0;
    if (conv.length) reveal(conv[conv.length - 1]); else log.scrollTop = 0;
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
    const turn = {q, state: "queued", html: "", text: "", md: "", owner: TAB, scope: scope.slice()};
    conv.push(turn);
    if (!busy) follow = turn;
    render(turn); if (!busy) reveal(turn); save(); pump();
  }
  function again(turn) {  // Retry / Regenerate: the same question, answered anew in its place
    Object.assign(turn, {state: "queued", html: "", text: "", md: "", error: "", failed: false, fb: null, fbMsg: "",
      noteOpen: false, note: "", noteDraft: null, fbId: null, owner: TAB, sources: []});
    if (!busy) follow = turn;
    render(turn); save(); pump();
  }
  async function pump() {
    if (busy) return;
    const turn = conv.find((t) => t.state === "queued" && t.owner === TAB);
    if (!turn) { $("#qa-stop").hidden = true; $("#qa-send").hidden = false; return; }
    const ctrl = new AbortController(); busy = {turn, ctrl, job: {}};
    const home = cur;  // the conversation this question belongs to, even if another is opened meanwhile
    $("#qa-stop").hidden = false; $("#qa-send").hidden = true;
    follow = turn; turn.state = "thinking"; render(turn);
    const s = settings();
    const history = conv.slice(0, conv.indexOf(turn)).filter((t) => t.state === "done" && !t.failed).map((t) => t.q);
    try {
      await call("chat", [turn.q, history, s.k, s.from, s.to, lang, turn.scope || []], (d) => {
        const part = typeof d === "string" ? JSON.parse(d) : d;
        turn.html = part.html; turn.text = part.text; turn.md = part.md || turn.md;
        turn.failed = Boolean(part.error); turn.sources = part.sources || []; turn.found = part.found;
        if (part.done) turn.state = "done";
        render(turn);
      }, ctrl.signal, busy.job);
      if (turn.state !== "done") turn.state = "done";
    } catch (e) {
      if (ctrl.signal.aborted) { turn.state = "stopped"; }
      else {
        turn.state = "error";
        // fetch() itself fails (TypeError) when nothing answers at all
        turn.error = e instanceof TypeError ? tr("offline") : `${tr("failed")}: ${e.message}`;
      }
    }
    busy = null;
    if (home === cur) { render(turn); save(); }
    else localStorage.setItem(PREFIX + home.id, JSON.stringify({...home, turns: home.turns.map(({el, ...r}) => r)}));
    pump();
  }
  function stop() {
    if (!busy) return;
    for (const t of conv) if (t.state === "queued" && t.owner === TAB) { t.state = "stopped"; render(t); }
    const job = busy.job;
    busy.ctrl.abort();
    if (job && job.event_id && job.fn_index !== null) {  // end the generation on the server as well
      fetch(`${base}/gradio_api/cancel`, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(job), credentials: "same-origin"}).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- feedback (👍/👎 + optional note)
  async function sendFeedback(turn) {
    const rec = [turn.fbId, turn.q, turn.text || "", JSON.stringify(turn.sources || []), turn.found !== false, turn.fb,
      turn.note || "", lang];
    try {
      await call("feedback", rec, () => {});
      turn.fbMsg = tr("thanks");
    } catch (e) { turn.fbMsg = `${tr("fb_failed")}: ${e.message}`; }
    render(turn); save();
  }
  function feedback(turn, v) {
    turn.fb = v; turn.fbId = turn.fbId || newId(); turn.noteOpen = true; turn.fbMsg = "";
    render(turn); sendFeedback(turn);
    const inp = turn.el && turn.el.querySelector(".qa-fbnote input"); if (inp) inp.focus({preventScroll: true});
  }
  function noteBox(turn) {
    const f = document.createElement("form"); f.className = "qa-fbnote";
    const id = `qa-note-${turn.fbId}`;
    const l = document.createElement("label"); l.htmlFor = id; l.textContent = tr("note");
    const i = document.createElement("input"); i.type = "text"; i.id = id; i.maxLength = 2000;
    i.value = turn.noteDraft ?? turn.note ?? "";
    i.addEventListener("input", () => { turn.noteDraft = i.value; });  // kept when the turn is drawn again
    const s = document.createElement("button"); s.type = "submit"; s.textContent = tr("send");
    f.append(l, i, s);
    f.addEventListener("submit", (e) => {
      e.preventDefault(); turn.note = i.value.trim(); turn.noteDraft = null; turn.noteOpen = false; sendFeedback(turn);
    });
    return f;
  }

  // ---------------------------------------------------------------- the conversation list
  let listFilter = "", undoBox = null;
  function switchTo(c) {
    if (busy) stop();
    cur = c; conv = cur.turns; sessionStorage.setItem(CURRENT, cur.id);
    follow = null; renderAll(); renderList(); showSide(false);
  }
  function renderList() {
    const ul = $("#qa-convlist"); if (!ul) return;
    const q = listFilter.toLowerCase();
    let all = listConvs();
    if (!all.some((c) => c.id === cur.id)) all = [cur, ...all];
    const shown = all.filter((c) => !q || titleOf(c).toLowerCase().includes(q)
      || c.turns.some((t) => (t.q || "").toLowerCase().includes(q)));
    ul.replaceChildren();
    for (const c of shown) {
      const li = document.createElement("li"); li.className = "qa-conv" + (c.id === cur.id ? " qa-conv-cur" : "");
      const open = button("qa-conv-open", titleOf(c), () => switchTo(c.id === cur.id ? cur : (loadConv(c.id) || c)));
      if (c.id === cur.id) open.setAttribute("aria-current", "true");
      const ren = button("qa-conv-ren", "✎", () => renameUI(li, c), `${tr("rename")}: ${titleOf(c)}`);
      const del = button("qa-conv-del", "✕", () => remove(c), `${tr("del")}: ${titleOf(c)}`);
      ren.title = tr("rename"); del.title = tr("del");
      li.append(open, ren, del); ul.append(li);
    }
    const none = $("#qa-convnone");
    if (none) { none.hidden = shown.length > 0; none.textContent = all.length ? tr("nomatch") : tr("none"); }
  }
  function renameUI(li, c) {
    const f = document.createElement("form"); f.className = "qa-conv-renform";
    const i = document.createElement("input"); i.type = "text"; i.value = titleOf(c); i.maxLength = 120;
    i.setAttribute("aria-label", tr("renameLabel"));
    f.append(i); li.replaceChildren(f); i.focus(); i.select();
    const done = (keep) => {
      if (keep && i.value.trim()) {
        const target = c.id === cur.id ? cur : loadConv(c.id);
        if (target) {
          target.title = i.value.trim().slice(0, 120); target.named = true;
          if (target === cur) save(); else localStorage.setItem(PREFIX + target.id, JSON.stringify(target));
        }
      }
      renderList();
    };
    f.addEventListener("submit", (e) => { e.preventDefault(); done(true); });
    i.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); done(false); } });
    i.addEventListener("blur", () => setTimeout(() => li.isConnected && li.contains(f) && done(true), 0));
  }
  function remove(c) {
    const stored = localStorage.getItem(PREFIX + c.id) || JSON.stringify({...c, turns: c.turns.map(({el, ...r}) => r)});
    localStorage.removeItem(PREFIX + c.id);
    if (c.id === cur.id) { if (busy) stop(); cur = listConvs()[0] || blank(); conv = cur.turns; sessionStorage.setItem(CURRENT, cur.id); renderAll(); }
    renderList();
    // Undo, for a while: the conversation's JSON is put back as it was
    if (undoBox) undoBox.remove();
    const box = document.createElement("div"); box.id = "qa-undo-conv"; box.setAttribute("role", "status");
    const msg = document.createElement("span"); msg.textContent = tr("deleted", {t: titleOf(c)});
    box.append(msg, button("qa-undo-btn", tr("undo"), () => {
      localStorage.setItem(PREFIX + c.id, stored); box.remove(); undoBox = null;
      const back = loadConv(c.id); if (back) switchTo(back);
    }));
    $("#qa-side").append(box); undoBox = box;
    setTimeout(() => { if (undoBox === box) { box.remove(); undoBox = null; } }, 10000);
  }
  function showSide(on) {
    const side = $("#qa-side"), t = $("#qa-convs-toggle"); if (!side || !t) return;
    side.classList.toggle("qa-side-open", on); t.setAttribute("aria-expanded", on ? "true" : "false");
  }
  // Another tab changed a conversation: refresh the list; follow the open one unless this tab is answering.
  window.addEventListener("storage", (e) => {
    if (e.key && e.key !== CURRENT && !e.key.startsWith(PREFIX)) return;
    if (e.key === PREFIX + cur.id && !busy && !conv.some((t) => t.state === "queued" && t.owner === TAB)) {
      const c = loadConv(cur.id);
      if (c) { cur = c; conv = cur.turns; renderAll(); }
    }
    renderList();
  });

  // ---------------------------------------------------------------- the reader (a modal dialog)
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
      const text = $(".qa-reader-text", body); if (text) text.tabIndex = 0;  // scrollable: reachable by keyboard
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
  function trapFocus(e) {  // Tab and Shift+Tab stay inside the open reader
    const box = $("#qa-reader"); if (!box || box.hidden || e.key !== "Tab") return;
    const f = [...box.querySelectorAll('a[href], button, [tabindex="0"], input, select, textarea')].filter((x) => x.offsetParent);
    if (!f.length) return;
    const first = f[0], last = f[f.length - 1];
    if (!box.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
    else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  }

  function exportMd() {
    const lines = [`# ${tr("export_title")} — ${new Date().toISOString().slice(0, 16).replace("T", " ")}`, ""];
    for (const t of conv) {
      if (t.md) lines.push(t.md);
      else lines.push(`### ${t.q}`, "", t.text || t.error || "", "");
    }
    const blob = new Blob([lines.join("\n")], {type: "text/markdown"});
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob);
    a.download = `qa-conversation-${new Date().toISOString().slice(0, 10)}.md`; document.body.append(a); a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  // ---------------------------------------------------------------- example questions from the newest articles
  let examplesLang = null;
  async function loadExamples() {
    const box = $("#qa-empty .qa-examples"); if (!box || examplesLang === lang) return;
    examplesLang = lang;
    try {
      await call("examples", [lang], (d) => {
        const qs = typeof d === "string" ? JSON.parse(d) : d;
        if (!Array.isArray(qs) || !qs.length) return;
        box.replaceChildren(...qs.map((q) => button("qa-example", q, () => ask(q))));
      });
    } catch { examplesLang = null; }  // the ones in the page stay
  }

  // ---------------------------------------------------------------- asking within chosen articles
  function pickedIds(which) {
    const rows = [...document.querySelectorAll("#qa-articles tbody tr")];
    if (which === "shown") return rows.filter((r) => !r.hidden).map((r) => r.dataset.id).filter(Boolean);
    return [...document.querySelectorAll("#qa-articles .qa-pick:checked")].map((c) => c.value);
  }
  function filterArticles(q) {
    q = q.toLowerCase().trim();
    document.querySelectorAll("#qa-articles tbody tr").forEach((r) => { r.hidden = Boolean(q) && !r.textContent.toLowerCase().includes(q); });
  }
  function askWithin(ids) {
    scope = ids; showFilter();
    const tab = document.querySelector('#qa-tabs [role="tab"]'); if (tab) tab.click();
    setTimeout(() => { const q = $("#qa-q"); if (q) q.focus(); }, 50);
  }

  // ---------------------------------------------------------------- language
  function translateGradio() {
    const root = document.querySelector("gradio-app") || document.body;
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (n.parentElement && n.parentElement.closest("#qa-chatpanel, #qa-reader, .qa-answer, #qa-articles")) continue;
      const v = n.nodeValue.trim(); if (!v) continue;
      const m = v.match(SIZE_TOAST);
      if (m) {
        const want = lang === "nl" ? `Te groot (hoogstens ${m[1]} MB): ${m[2]}` : `Too large (at most ${m[1]} MB): ${m[2]}`;
        if (v !== want) n.nodeValue = want;
        continue;
      }
      for (const [en, nl] of GR) {
        const want = lang === "nl" ? nl : en, other = lang === "nl" ? en : nl;
        if (v === other) n.nodeValue = n.nodeValue.replace(other, want);
      }
    }
    // the upload box's name holds its visible words (WCAG 2.5.3: label in name)
    document.querySelectorAll("#qa-files .upload-container").forEach((b) => {
      const words = b.textContent.replace(/\s+/g, " ").trim();
      if (words && b.getAttribute("aria-label") !== words) b.setAttribute("aria-label", words);
    });
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
    if (ph) el.querySelectorAll("input[type=text], textarea").forEach((i) => { if (i.placeholder !== ph) i.placeholder = ph; });
  }
  function applyLang() {
    document.documentElement.setAttribute("data-qa-lang", lang);
    if (document.documentElement.getAttribute("lang") !== lang) document.documentElement.setAttribute("lang", lang);
    document.querySelectorAll("[data-i18n]").forEach((el) => setText(el, tr(el.dataset.i18n)));
    document.querySelectorAll("[data-i18n-html]").forEach((el) => {
      if (el.dataset.lang !== lang) { el.innerHTML = tr(el.dataset.i18nHtml); el.dataset.lang = lang; } });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { if (el.placeholder !== tr(el.dataset.i18nPlaceholder)) el.placeholder = tr(el.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-aria]").forEach((el) => { if (el.getAttribute("aria-label") !== tr(el.dataset.i18nAria)) el.setAttribute("aria-label", tr(el.dataset.i18nAria)); });
    document.querySelectorAll("[data-i18n-title]").forEach((el) => { if (el.title !== tr(el.dataset.i18nTitle)) el.title = tr(el.dataset.i18nTitle); });
    const tabs = document.querySelectorAll('#qa-tabs [role="tab"]');
    tabs.forEach((b, i) => { if (T[lang].tabs[i]) setText(b, T[lang].tabs[i]); });
    label("qa-files", tr("files")); label("qa-remove-dd", tr("removeLabel")); label("qa-k", tr("k"));
    label("qa-from", tr("from"), tr("datePh")); label("qa-to", tr("to"), tr("datePh"));
    label("qa-date-dd", tr("dateArticle")); label("qa-date-value", tr("dateValue"), tr("datePh2"));
    for (const [id, k] of [["qa-add", "add"], ["qa-remove", "remove"], ["qa-undo", "undo"], ["qa-setdate", "setDate"]]) {
      const b = document.getElementById(id); if (b) setText(b, tr(k));
    }
    const as = $("#qa-artsearch"); if (as && as.getAttribute("aria-label") !== tr("artSearch")) { as.setAttribute("aria-label", tr("artSearch")); as.placeholder = tr("artSearch"); }
    document.querySelectorAll("#qa-articles .qa-pick").forEach((c) => {
      const want = tr("pick", {t: c.dataset.title || c.value});
      if (c.getAttribute("aria-label") !== want) c.setAttribute("aria-label", want);
    });
    const sel = $("#qa-lang-select"); if (sel && sel.value !== (localStorage.getItem(LANGKEY) || "auto")) sel.value = localStorage.getItem(LANGKEY) || "auto";
    translateGradio(); showFilter();
  }

  // Tabs: the arrow keys, Home and End move between them (the WAI-ARIA tabs pattern).
  function tabKeys(e) {
    const tab = e.target.closest && e.target.closest('#qa-tabs [role="tab"]');
    if (!tab || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
    const tabs = [...document.querySelectorAll('#qa-tabs [role="tab"]')];
    const i = tabs.indexOf(tab), n = tabs.length;
    const j = e.key === "Home" ? 0 : e.key === "End" ? n - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + n) % n;
    e.preventDefault(); tabs[j].click();
    setTimeout(() => { const t = document.querySelectorAll('#qa-tabs [role="tab"]')[j]; if (t) t.focus(); }, 0);
  }
  function fixTabStops() {  // only the selected tab is in the Tab order; the arrows reach the others
    document.querySelectorAll('#qa-tabs [role="tab"]').forEach((t) => {
      const want = t.getAttribute("aria-selected") === "true" ? "0" : "-1";
      if (t.getAttribute("tabindex") !== want) t.setAttribute("tabindex", want);
    });
  }

  function init() {
    if (!$("#qa-q") || !document.querySelector('#qa-tabs [role="tab"]')) { setTimeout(init, 50); return; }
    const box = $("#qa-q");
    document.body.append($("#qa-reader"));  // out of the Chat tab: the Articles tab opens it too
    const count = $("#qa-count");
    let cut = false;
    const counter = () => {
      const n = box.value.length;
      count.hidden = n < COUNT_FROM && !cut;
      count.textContent = n >= MAXQ || cut ? tr("at_cap", {max: MAXQ.toLocaleString(lang)}) : tr("count", {n, max: MAXQ});
      count.classList.toggle("qa-count-cap", n >= MAXQ || cut);
    };
    const send = () => { const v = box.value; box.value = ""; cut = false; autosize(); counter(); recall = -1; ask(v); };
    const autosize = () => { box.style.height = "auto"; box.style.height = Math.min(box.scrollHeight, 160) + "px"; };
    box.addEventListener("input", () => { recall = -1; if (box.value.length < MAXQ) cut = false; autosize(); counter(); });
    box.addEventListener("paste", (e) => {  // the box's maxlength cuts a long paste silently: say so
      const text = (e.clipboardData && e.clipboardData.getData("text")) || "";
      cut = box.value.length - (box.selectionEnd - box.selectionStart) + text.length > MAXQ;
      setTimeout(counter, 0);
    });
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
    const log = $("#qa-log");
    for (const ev of ["wheel", "touchstart"]) log.addEventListener(ev, () => { follow = null; }, {passive: true});
    log.addEventListener("keydown", (e) => { if (["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " "].includes(e.key)) follow = null; });
    $("#qa-send").addEventListener("click", send);
    $("#qa-stop").addEventListener("click", stop);
    $("#qa-new").addEventListener("click", () => {
      if (busy) stop();
      if (conv.length) { cur = blank(); conv = cur.turns; sessionStorage.setItem(CURRENT, cur.id); }
      renderAll(); renderList(); box.focus({preventScroll: true});
    });
    $("#qa-export").addEventListener("click", exportMd);
    $("#qa-convs-toggle").addEventListener("click", () => showSide(!$("#qa-side").classList.contains("qa-side-open")));
    $("#qa-convsearch").addEventListener("input", (e) => { listFilter = e.target.value; renderList(); });
    $("#qa-filter-clear").addEventListener("click", () => { setField("qa-from", ""); setField("qa-to", ""); setTimeout(showFilter, 50); });
    $("#qa-scope-clear").addEventListener("click", () => { scope = []; showFilter(); });
    $("#qa-reader-close").addEventListener("click", closeReader);
    $("#qa-reader").addEventListener("click", (e) => { if (e.target.id === "qa-reader") closeReader(); });
    document.querySelectorAll(".qa-example").forEach((b) => b.addEventListener("click", () => ask(b.textContent)));
    document.addEventListener("click", (e) => {
      const t = e.target.closest && e.target.closest(".qa-toggle");
      if (t) {  // a source's passage, shown or hidden
        const p = t.closest(".qa-src").querySelector(".qa-passage"), on = t.getAttribute("aria-expanded") !== "true";
        t.setAttribute("aria-expanded", on ? "true" : "false"); if (p) p.hidden = !on;
        return;
      }
      const w = e.target.closest && e.target.closest(".qa-askwithin");
      if (w) { askWithin(pickedIds(w.dataset.which)); return; }
      const a = e.target.closest && e.target.closest("a.qa-cite, a.qa-open");
      if (!a) return;
      e.preventDefault(); e.stopPropagation();
      openReader(a.dataset.a, a.dataset.s, a.dataset.e);
    }, true);
    document.addEventListener("keydown", (e) => {
      trapFocus(e); tabKeys(e);
      if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K")) {
        e.preventDefault();
        const tab = document.querySelector('#qa-tabs [role="tab"]');
        if (!$("#qa-q").offsetParent && tab) tab.click();
        setTimeout(() => $("#qa-q").focus(), 0);
      } else if (e.key === "Escape") {
        if (closeReader()) return;
        if ($("#qa-side").classList.contains("qa-side-open")) { showSide(false); return; }
        if (busy) { e.preventDefault(); stop(); }
      }
    });
    document.addEventListener("input", (e) => {
      if (e.target.closest && e.target.closest("#qa-from, #qa-to")) showFilter();
      if (e.target.classList && e.target.classList.contains("qa-artsearch")) filterArticles(e.target.value);
    }, true);
    // Settings and Articles are rendered when first shown: delegate, and relabel what appears.
    document.addEventListener("change", (e) => {
      if (e.target.id !== "qa-lang-select") return;
      const v = e.target.value;
      if (v === "auto") localStorage.removeItem(LANGKEY); else localStorage.setItem(LANGKEY, v);
      lang = v === "auto" ? browserLang() : v; applyLang(); renderAll(); renderList(); loadExamples();
    });
    new MutationObserver(() => { clearTimeout(window.__qaTr); window.__qaTr = setTimeout(() => { applyLang(); fixTabStops(); }, 30); })
      .observe(document.querySelector("gradio-app") || document.body,
        {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-selected"]});
    applyLang(); fixTabStops(); renderAll(); renderList(); loadExamples();
    // Focus the box without scrolling the header away.
    box.focus({preventScroll: true}); window.scrollTo(0, 0);
    pump();
  }
  init();
})();
