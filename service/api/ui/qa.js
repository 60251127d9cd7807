// The QA page's behaviour: the review queue (or a filtered audit list), one-click relabelling and the intent report.
// Customer text only ever reaches the page through textContent / text nodes, never as markup.
"use strict";

(() => {
  const KEY_STORE = "huashu.qa.key";
  const REVIEWER_STORE = "huashu.qa.reviewer";
  const PAGE_SIZE = 50;
  // Labels come from the server (/ui/contract.json) when the page starts.
  let LABELS = null;

  const $ = (id) => document.getElementById(id);
  const state = { offset: 0, total: 0, filtered: false, params: {} };

  const fixed = (x, digits = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
  const intentName = (id) => (LABELS.intents[id] ? `${id} ${LABELS.intents[id]}` : id);
  const psychologyName = (id) => (id === null || id === undefined ? "none" : LABELS.psychology[id] ? `${id} ${LABELS.psychology[id]}` : id);

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  const api = (path, options = {}) =>
    callApi(path, { ...options, keyStore: KEY_STORE, keyHint: " (enter an API key with the qa role above)" });

  // ---- filters -------------------------------------------------------------------------------

  function fillSelect(select, ids, name) {
    for (const id of ids) select.append(new Option(name(id), id));
  }

  function readFilters() {
    const params = {};
    const set = (name, value) => {
      if (value !== "" && value !== null && value !== undefined) params[name] = value;
    };
    set("intent", $("f-intent").value);
    set("psychology", $("f-psychology").value);
    set("since", $("f-since").value);
    set("until", $("f-until").value);
    set("confidence_below", $("f-confidence").value.trim());
    set("reviewed", $("f-reviewed").value);
    set("q", $("f-q").value.trim());
    return params;
  }

  function clearFilters() {
    for (const id of ["f-intent", "f-psychology", "f-since", "f-until", "f-confidence", "f-reviewed", "f-q"]) $(id).value = "";
  }

  // ---- the list --------------------------------------------------------------------------------

  function agentCell(agent) {
    const cell = el("td", { className: "agent" });
    for (const action of ["clicked", "sent", "edited", "dismissed"]) {
      const ids = (agent && agent[action]) || [];
      if (ids.length) cell.append(el("div", { className: `action ${action}`, dataset: { action } }, `${action}: ${ids.join(", ")}`));
    }
    if (!cell.childNodes.length) cell.append(el("span", { className: "muted" }, "–"));
    return cell;
  }

  function repliesCell(replies) {
    const list = el("ol", { className: "replies" });
    for (const id of replies || []) list.append(el("li", {}, id));
    return el("td", {}, list);
  }

  function reviewedNote(review) {
    const intents = review.intents.map(intentName).join(" + ");
    const psychology = review.psychology ? ` · ${psychologyName(review.psychology)}` : "";
    return el("div", { className: "reviewed-note" }, `✔ ${intents}${psychology} (${review.reviewer})`);
  }

  function reviewCell(item) {
    const intentSelect = el("select", { className: "relabel", title: "correct intent" });
    fillSelect(intentSelect, Object.keys(LABELS.intents), intentName);
    intentSelect.value = item.intent;
    const psychologySelect = el("select", { className: "relabel-psychology", title: "correct psychology" });
    psychologySelect.append(new Option("none", ""));
    fillSelect(psychologySelect, Object.keys(LABELS.psychology), psychologyName);
    psychologySelect.value = item.psychology || "";
    const correct = el("button", { type: "button", className: "correct", title: "the predicted intent is right" }, "✓ correct");
    const save = el("button", { type: "button", className: "save", title: "save the intent chosen here" }, "save");
    correct.addEventListener("click", () => submitReview(item, item.intent, psychologySelect.value, [correct, save]));
    save.addEventListener("click", () => submitReview(item, intentSelect.value, psychologySelect.value, [correct, save]));
    const cell = el("td", { className: "review" }, intentSelect, psychologySelect, correct, save);
    if (item.review) cell.append(reviewedNote(item.review));
    return cell;
  }

  function row(item) {
    const top = el("div", { className: "intent" }, intentName(item.intent));
    const numbers = el("div", { className: "muted" }, `conf ${fixed(item.confidence)} · margin ${fixed(item.margin)}`);
    const psychology = el("td", { className: "psychology" }, psychologyName(item.psychology));
    if (item.psychology_confidence !== null && item.psychology_confidence !== undefined) {
      psychology.append(el("div", { className: "muted" }, `conf ${fixed(item.psychology_confidence)}`));
    }
    if (item.emotion && item.emotion !== "calm") psychology.append(el("div", { className: `emotion ${item.emotion}` }, item.emotion));
    if (item.escalate) psychology.append(el("div", { className: "escalate" }, "escalate"));
    const created = (item.created || "").slice(0, 16).replace("T", " ");
    return el(
      "tr",
      { dataset: { id: item.id, intent: item.intent, reviewed: item.review ? "true" : "false" } },
      el("td", { className: "created" }, created, el("div", { className: "muted" }, item.endpoint || "")),
      el("td", { className: "message" }, item.message),
      el("td", { className: "predicted", dataset: { confidence: item.confidence ?? "" } }, top, numbers),
      psychology,
      repliesCell(item.replies),
      agentCell(item.agent),
      reviewCell(item),
    );
  }

  function renderPager() {
    const shown = $("queue").tBodies[0].rows.length;
    $("list-total").textContent = `${state.total} ${state.filtered ? "matching" : "unreviewed"}`;
    $("page-info").textContent = state.total ? `${state.offset + 1}–${state.offset + shown} of ${state.total}` : "";
    $("prev-page").disabled = state.offset === 0;
    $("next-page").disabled = state.offset + PAGE_SIZE >= state.total;
    $("empty").hidden = shown > 0;
  }

  async function loadList() {
    const query = new URLSearchParams({ ...state.params, limit: PAGE_SIZE, offset: state.offset });
    const path = state.filtered ? `/v1/audit?${query}` : `/v1/audit/queue?${query}`;
    const page = await api(path);
    state.total = page.total;
    const table = $("queue");
    table.dataset.mode = state.filtered ? "filtered" : "queue";
    $("list-mode").textContent = state.filtered ? "Audit log (filtered)" : "Review queue";
    table.tBodies[0].replaceChildren(...page.items.map(row));
    renderPager();
  }

  async function submitReview(item, intent, psychology, buttons) {
    buttons.forEach((b) => (b.disabled = true));
    try {
      const review = await api(`/v1/audit/${encodeURIComponent(item.id)}/review`, {
        method: "POST",
        payload: {
          intents: [intent],
          psychology: psychology || null,
          reviewer: $("reviewer").value.trim() || "qa",
          comment: null,
        },
      });
      showError("");
      const tr = $("queue").querySelector(`tr[data-id="${CSS.escape(item.id)}"]`);
      // The queue holds unreviewed rows only, so a reviewed row leaves it; a filtered list keeps it, marked.
      if (!state.filtered || state.params.reviewed === "false") {
        if (tr) tr.remove();
        state.total = Math.max(0, state.total - 1);
      } else if (tr) {
        tr.dataset.reviewed = "true";
        const cell = tr.querySelector("td.review");
        cell.querySelector(".reviewed-note")?.remove();
        cell.append(reviewedNote(review));
      }
      renderPager();
      await loadReport();
    } catch (err) {
      showError(err.message);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  // ---- the report ------------------------------------------------------------------------------

  function renderPerIntent(perIntent) {
    const rows = Object.entries(perIntent).map(([id, s]) =>
      el(
        "tr",
        { dataset: { intent: id } },
        el("th", { scope: "row" }, intentName(id)),
        el("td", { className: "precision" }, fixed(s.precision, 3)),
        el("td", { className: "recall" }, fixed(s.recall, 3)),
        el("td", { className: "f1" }, fixed(s.f1, 3)),
        el("td", { className: "support" }, s.support),
      ),
    );
    $("per-intent").tBodies[0].replaceChildren(...rows);
  }

  function renderConfusion(confusion) {
    const { labels, matrix } = confusion;
    const max = Math.max(1, ...matrix.flat());
    const table = $("confusion");
    const head = el("tr", {}, el("th", { scope: "col", className: "corner" }, "gold ↓ / predicted →"));
    for (const label of labels) head.append(el("th", { scope: "col", title: intentName(label) }, label));
    table.tHead.replaceChildren(head);
    const rows = labels.map((gold, i) => {
      const tr = el("tr", { dataset: { gold } }, el("th", { scope: "row", title: intentName(gold) }, gold));
      labels.forEach((pred, j) => {
        const count = matrix[i][j];
        const td = el("td", { dataset: { gold, pred, count }, title: `gold ${gold}, predicted ${pred}: ${count}` }, count);
        // Intensity proportional to the count: green on the diagonal (right), red off it (confusions).
        const alpha = count / max;
        td.style.backgroundColor = i === j ? `rgba(22, 128, 61, ${alpha.toFixed(3)})` : `rgba(200, 30, 30, ${alpha.toFixed(3)})`;
        if (alpha > 0.55) td.classList.add("dark");
        if (i === j) td.classList.add("diagonal");
        tr.append(td);
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  // The report covers the date range of the applied filters.
  async function loadReport() {
    const params = {};
    if (state.params.since) params.since = state.params.since;
    if (state.params.until) params.until = state.params.until;
    const query = new URLSearchParams(params).toString();
    const report = await api(`/v1/reports/intents${query ? `?${query}` : ""}`);
    $("reviewed-count").textContent = report.reviewed;
    $("requests-count").textContent = report.requests ?? "–";
    $("accuracy").textContent = fixed(report.accuracy, 3);
    $("macro-f1").textContent = fixed(report.macro_f1, 3);
    $("report-range").textContent = params.since || params.until ? `${params.since || "…"} – ${params.until || "…"}` : "all days";
    renderPerIntent(report.per_intent);
    renderConfusion(report.confusion);
  }

  // ---- wiring ----------------------------------------------------------------------------------

  // Applies the filter form: any filter set lists GET /v1/audit, none the review queue.
  async function refresh() {
    state.params = readFilters();
    state.filtered = Object.keys(state.params).length > 0;
    try {
      await Promise.all([loadList(), loadReport()]);
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  function init() {
    fillSelect($("f-intent"), Object.keys(LABELS.intents), intentName);
    fillSelect($("f-psychology"), Object.keys(LABELS.psychology), psychologyName);
    $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
    $("reviewer").value = sessionStorage.getItem(REVIEWER_STORE) || "qa";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
      sessionStorage.setItem(REVIEWER_STORE, $("reviewer").value.trim() || "qa");
      refresh();
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      state.offset = 0;
      refresh();
    });
    $("clear-filters").addEventListener("click", () => {
      clearFilters();
      state.offset = 0;
      refresh();
    });
    $("prev-page").addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE_SIZE);
      loadList().catch((err) => showError(err.message));
    });
    $("next-page").addEventListener("click", () => {
      state.offset += PAGE_SIZE;
      loadList().catch((err) => showError(err.message));
    });
    refresh();
  }

  loadContract()
    .then((contract) => {
      LABELS = contract;
      init();
    })
    .catch((err) => showError(err.message));
})();
