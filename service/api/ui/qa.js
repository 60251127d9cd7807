// The QA page's behaviour: the review queue (or a filtered audit list) paged by cursor, relabelling with several
// intents and a comment (by mouse or keyboard), bulk confirmation of identical messages, export, the intent report
// and reply adoption.
// Customer text, replies and everything else from the server reach the page as text nodes only, never as markup.
"use strict";

(() => {
  const KEY_STORE = "huashu.qa.key";
  const REVIEWER_STORE = "huashu.qa.reviewer";
  const PAGE_SIZE = 50;
  const MAX_INTENTS = 3; // a review names up to three intents, main first (ReviewRequest)
  const MAX_BULK = 500; // POST /v1/reviews takes up to 500 ids
  const REPLIES_SHOWN = 15; // replies in the adoption chart before "show all"
  const NO_DATA = "暂无数据";
  const ACTION_LABELS = { clicked: "已点击", sent: "直接发送", edited: "改后发送", dismissed: "已忽略" };
  const ENDPOINT_LABELS = { suggest: "话术建议", classify: "意图识别" };

  // Labels come from the server (/ui/contract.json) when the page starts.
  let CONTRACT = null;
  let INTENT_IDS = [];
  const label = (table, id) => (CONTRACT[table] && CONTRACT[table][id]) || id;
  const intentName = (id) => label("intents", id);
  const psychologyName = (id) => (id === null || id === undefined || id === "" ? "无" : label("psychology", id));

  const $ = (id) => document.getElementById(id);
  const state = {
    filtered: false,
    params: {},
    cursors: [null], // the `after` of each page seen so far: [null] is the first page
    next: null, // the current page's `next` cursor
    total: 0,
    items: new Map(), // request id → audit row on the page
    twins: new Map(), // message → how many rows of the page have it
    picks: new Map(), // request id → intents picked for it, main first
    current: null, // request id of the row the keys act on
    listSeq: 0,
    reportSeq: 0,
    bulk: null,
    replyTexts: null, // Promise of {reply id → text} from GET /v1/replies
    adoptionAll: false,
    lastReport: null,
  };

  const fixed = (x, digits = 2) => (x === null || x === undefined ? NO_DATA : Number(x).toFixed(digits));
  const percent = (x) => (x === null || x === undefined ? NO_DATA : `${Math.round(x * 1000) / 10}%`);

  // ---- messages ----------------------------------------------------------------------------------

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  let noticeTimer = null;
  function showNotice(message) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
    clearTimeout(noticeTimer);
    if (message) noticeTimer = setTimeout(() => (box.hidden = true), 6000);
  }

  // A failed call to the API, said in Chinese with the server's own account where it gives one.
  function problem(status, body) {
    const said = body && body.message ? `服务器说明：${body.message}` : "";
    switch (status) {
      case 401:
        return "需要 API key（401）：请在右上角填入质检（qa）角色的 key，再点“使用”。";
      case 403:
        return "这个 key 没有质检权限（403）：请换用质检（qa）或管理员角色的 key。";
      case 404:
        return `找不到这条记录（404）。${said}`;
      case 413:
        return "请求内容太大（413）。";
      case 422:
        return `请求参数有误（422）。${said}`;
      case 429:
        return "请求太频繁（429）：请稍等几秒再试。";
      case 503:
        return `服务暂时不可用（503），请稍后再试。${said}`;
      case 504:
        return "查询超时（504）：请缩小日期范围或多加筛选条件后再试。";
      default:
        return `请求失败（${status}）。${said}`;
    }
  }

  // One call to the API with the key kept in sessionStorage; resolves to the answer's JSON (or the Response
  // itself with `raw`), rejects with an Error whose message is for the QA lead.
  async function api(path, { method = "GET", payload, raw = false } = {}) {
    const headers = { Accept: raw ? "*/*" : "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    } catch (_) {
      throw new Error("无法连接到服务：请检查网络，或确认服务正在运行。");
    }
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      const err = new Error(problem(response.status, body));
      err.status = response.status;
      throw err;
    }
    return raw ? response : response.json();
  }

  // ---- filters -------------------------------------------------------------------------------------

  function fillSelect(select, ids, name) {
    for (const id of ids) select.append(new Option(name(id), id));
  }

  // The chosen dates, checked: a start after the end names no day (the server answers 422 for it too).
  function readDates() {
    const since = $("f-since").value;
    const until = $("f-until").value;
    const reversed = Boolean(since && until && since > until);
    for (const id of ["f-since", "f-until"]) $(id).setAttribute("aria-invalid", String(reversed));
    if (reversed) throw new Error(`开始日期（${since}）晚于结束日期（${until}），这个范围内没有任何一天：请调整日期后再试。`);
    return { since, until };
  }

  function readFilters() {
    const params = {};
    const set = (name, value) => {
      if (value !== "" && value !== null && value !== undefined) params[name] = value;
    };
    const { since, until } = readDates();
    const confidence = $("f-confidence").value.trim();
    const bad = confidence !== "" && !(Number(confidence) >= 0 && Number(confidence) <= 1);
    $("f-confidence").setAttribute("aria-invalid", String(bad));
    if (bad) throw new Error("“置信度低于”须是 0 到 1 之间的数，例如 0.6。");
    set("intent", $("f-intent").value);
    set("psychology", $("f-psychology").value);
    set("endpoint", $("f-endpoint").value);
    set("since", since);
    set("until", until);
    set("confidence_below", confidence);
    set("reviewed", $("f-reviewed").value);
    set("q", $("f-q").value.trim()); // as typed: the server folds traditional and full-width forms
    return params;
  }

  function clearFilters() {
    for (const id of ["f-intent", "f-psychology", "f-endpoint", "f-since", "f-until", "f-confidence", "f-reviewed", "f-q"]) {
      $(id).value = "";
      $(id).removeAttribute("aria-invalid");
    }
  }

  // ---- the rows ------------------------------------------------------------------------------------

  const cell = (className, title, ...children) => el("td", { className, dataset: { label: title } }, ...children);

  // The conversation before the message: the last turns shown, earlier ones folded away.
  function historyNode(history) {
    if (!history || !history.length) return null;
    const turn = (t) =>
      el("li", { className: `turn ${t.role}`, dataset: { role: t.role } }, el("span", { className: "who" }, t.role === "agent" ? "客服" : "客户"), el("span", { className: "text" }, t.text));
    const shown = history.slice(-3);
    const box = el("div", { className: "history" });
    if (history.length > shown.length) {
      const earlier = history.slice(0, history.length - shown.length);
      box.append(el("details", { className: "earlier" }, el("summary", {}, `更早的 ${earlier.length} 轮`), el("ol", {}, ...earlier.map(turn))));
    }
    box.append(el("ol", {}, ...shown.map(turn)));
    return box;
  }

  function messageCell(item) {
    return cell(
      "message",
      "客户消息",
      historyNode(item.history),
      el("div", { className: "said", title: "本条客户消息（已脱敏）" }, item.message),
    );
  }

  function predictedCell(item) {
    const top = el("div", { className: "intent" }, intentName(item.intent));
    const numbers = el("div", { className: "muted", title: "领先：与第二名意图的置信度之差" }, `置信度 ${fixed(item.confidence)}`, el("br"), `领先 ${fixed(item.margin)}`);
    const second = (item.intents || [])[1];
    const runnerUp = second ? el("div", { className: "muted" }, `其次：${intentName(second.id)} ${fixed(second.confidence)}`) : null;
    const td = cell("predicted", "预测意图", top, numbers, runnerUp);
    td.dataset.confidence = item.confidence ?? "";
    if (item.handoff) td.append(el("div", { className: "tag warn" }, "建议转人工"));
    return td;
  }

  function psychologyCell(item) {
    const td = cell("psychology", "心理 / 情绪", psychologyName(item.psychology));
    if (item.psychology_confidence !== null && item.psychology_confidence !== undefined) {
      td.append(el("div", { className: "muted" }, `置信度 ${fixed(item.psychology_confidence)}`));
    }
    if (item.emotion) td.append(el("div", { className: `emotion ${item.emotion}` }, `情绪：${label("emotions", item.emotion)}`));
    if (item.escalate) td.append(el("div", { className: "tag danger" }, "需升级处理"));
    return td;
  }

  // The replies shown, as texts (ids on hover), each marked with what the agent did with it.
  function repliesCell(item) {
    const list = el("ol", { className: "replies" });
    const agent = item.agent || {};
    (item.replies || []).forEach((id, i) => {
      const text = (item.reply_texts || [])[i];
      const li = el("li", { title: `话术 ${id}`, dataset: { reply: id } }, el("span", { className: "text" }, text || id));
      for (const action of ["sent", "edited", "clicked", "dismissed"]) {
        if ((agent[action] || []).includes(id)) li.append(el("span", { className: `badge ${action}`, dataset: { action } }, ACTION_LABELS[action]));
      }
      list.append(li);
    });
    return cell("replies", "展示的话术", (item.replies || []).length ? list : el("span", { className: "muted" }, "未展示话术"));
  }

  // The text with each finding's span marked (spans count code points, as the server does); overlapping
  // findings share a mark naming all of them.
  function markedText(text, findings) {
    const chars = Array.from(text);
    const cover = chars.map(() => []);
    for (const f of findings) {
      const start = Math.max(0, f.span ? f.span.start : 0);
      const end = Math.min(chars.length, f.span ? f.span.end : 0);
      for (let i = start; i < end; i += 1) cover[i].push(f);
    }
    const node = el("div", { className: "final-text" });
    let i = 0;
    while (i < chars.length) {
      let j = i + 1;
      while (j < chars.length && cover[j].length === cover[i].length && cover[j].every((f, k) => f === cover[i][k])) j += 1;
      const piece = chars.slice(i, j).join("");
      if (cover[i].length) {
        const severity = cover[i].some((f) => f.severity === "error") ? "error" : "warning";
        node.append(el("mark", { className: `finding ${severity}`, title: cover[i].map((f) => f.message).join("\n") }, piece));
      } else {
        node.append(piece);
      }
      i = j;
    }
    return node;
  }

  function findingLine(f) {
    const category = label("lint_categories", f.category);
    const message = f.message || category;
    const said = message.startsWith(category) ? message : `${category}：${message}`;
    const suggestion = f.suggestion ? ` → 建议改为“${f.suggestion}”` : "";
    return el("li", { className: `finding-note ${f.severity}`, dataset: { category: f.category } }, `“${f.text}”：${said}${suggestion}`);
  }

  // What the agent actually sent: the final text, with the draft check's findings it was sent past.
  function agentCell(item) {
    const td = cell("agent", "坐席实际发送");
    for (const final of (item.agent && item.agent.final_texts) || []) {
      const findings = final.findings || [];
      const box = el("div", { className: "final", dataset: { reply: final.reply_id, findings: String(findings.length) } });
      box.append(el("div", { className: "muted" }, `${ACTION_LABELS[final.action] || final.action}（基于话术 ${final.reply_id}）`));
      box.append(markedText(final.text, findings));
      if (findings.length) {
        box.append(el("div", { className: "tag danger" }, `带着 ${findings.length} 处草稿检查问题发出`));
        box.append(el("ul", { className: "findings" }, ...findings.map(findingLine)));
      }
      td.append(box);
    }
    if (!td.querySelector(".final")) {
      td.classList.add("empty");
      td.append(el("span", { className: "muted" }, "没有改写后发出的文字"));
    }
    return td;
  }

  function reviewText(review) {
    const intents = review.intents.map(intentName).join(" + ");
    const psychology = review.psychology ? ` · ${psychologyName(review.psychology)}` : "";
    const comment = review.comment ? ` · 备注：${review.comment}` : "";
    return `✔ 已审核：${intents}${psychology}${comment}（${review.reviewer}）`;
  }

  function reviewedNote(review) {
    return el("div", { className: "reviewed-note" }, reviewText(review));
  }

  // The intent chips of a row, pressed in the order picked (the first is the main intent).
  function renderPicks(tr) {
    const picks = state.picks.get(tr.dataset.id) || [];
    for (const chip of tr.querySelectorAll("button.chip")) {
      const at = picks.indexOf(chip.dataset.intent);
      chip.setAttribute("aria-pressed", String(at >= 0));
      chip.querySelector(".order").textContent = at < 0 ? "" : at === 0 ? "主" : String(at + 1);
    }
    tr.dataset.picks = picks.join(",");
    const save = tr.querySelector("button.save");
    save.title = picks.length ? `保存为：${picks.map(intentName).join(" + ")}（Enter）` : "未选意图：按预测的意图保存（Enter）";
  }

  function togglePick(id, intent) {
    const tr = rowOf(id);
    if (!tr) return;
    const picks = [...(state.picks.get(id) || [])];
    const at = picks.indexOf(intent);
    if (at >= 0) picks.splice(at, 1);
    else if (picks.length >= MAX_INTENTS) {
      showNotice(`一条消息最多标注 ${MAX_INTENTS} 个意图：请先取消一个。`);
      return;
    } else picks.push(intent);
    state.picks.set(id, picks);
    renderPicks(tr);
  }

  function reviewCell(item) {
    const chips = el("div", { className: "chips", role: "group", ariaLabel: "正确意图：先选的为主意图", title: "正确意图：先选的为主意图（键盘 1–8），虚线框为模型预测" });
    INTENT_IDS.forEach((intent, i) => {
      const chip = el(
        "button",
        { type: "button", className: "chip", dataset: { intent }, title: `${intentName(intent)}（按 ${i + 1}）` },
        el("kbd", {}, String(i + 1)),
        intentName(intent),
        el("span", { className: "order" }),
      );
      if (intent === item.intent) chip.classList.add("predicted");
      chip.addEventListener("click", () => {
        setCurrent(item.id, false);
        togglePick(item.id, intent);
      });
      chips.append(chip);
    });
    const psychology = el("select", { className: "relabel-psychology", title: "正确的购买/投诉心理" });
    psychology.append(new Option("心理：无", ""));
    fillSelect(psychology, Object.keys(CONTRACT.psychology), (id) => `心理：${psychologyName(id)}`);
    psychology.value = item.psychology || "";
    const comment = el("input", { type: "text", className: "comment", maxLength: 1000, placeholder: "备注（可选）", title: "备注：为什么这样标注" });
    const correct = el("button", { type: "button", className: "correct primary", title: "预测的意图是对的" }, "✓ 预测正确");
    const save = el("button", { type: "button", className: "save", title: "按所选意图保存（Enter）" }, "保存标注");
    const twins = state.twins.get(item.message) || 1;
    const same = el(
      "button",
      { type: "button", className: "same", title: "找出与这条完全相同的消息（所有页），一次确认" },
      twins > 1 ? `相同消息（本页 ${twins} 条）…` : "相同消息…",
    );
    correct.addEventListener("click", () => submitReview(item.id, [item.intent]));
    save.addEventListener("click", () => submitReview(item.id));
    same.addEventListener("click", () => openBulk(item.id));
    comment.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submitReview(item.id);
      }
    });
    const td = cell(
      "review",
      "审核",
      chips,
      el("div", { className: "review-line" }, psychology, comment),
      el("div", { className: "review-actions" }, correct, save, same),
    );
    if (item.review) td.append(reviewedNote(item.review));
    return td;
  }

  function row(item) {
    const created = (item.created || "").slice(0, 16).replace("T", " ");
    const tr = el(
      "tr",
      { dataset: { id: item.id, intent: item.intent, reviewed: item.review ? "true" : "false" } },
      cell("created", "时间（UTC）", created, el("div", { className: "muted" }, ENDPOINT_LABELS[item.endpoint] || item.endpoint || "")),
      messageCell(item),
      predictedCell(item),
      psychologyCell(item),
      repliesCell(item),
      agentCell(item),
      reviewCell(item),
    );
    return tr;
  }

  const rowOf = (id) => (id ? $("queue").tBodies[0].querySelector(`tr[data-id="${CSS.escape(id)}"]`) : null);
  const rows = () => Array.from($("queue").tBodies[0].rows);

  function setCurrent(id, scroll = true) {
    const old = rowOf(state.current);
    if (old) {
      old.classList.remove("current");
      old.removeAttribute("aria-current");
    }
    state.current = id;
    const tr = rowOf(id);
    if (!tr) return;
    tr.classList.add("current");
    tr.setAttribute("aria-current", "true");
    if (scroll) tr.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.findIndex((tr) => tr.dataset.id === state.current);
    const to = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    setCurrent(all[to].dataset.id);
  }

  // ---- the list, paged by cursor ---------------------------------------------------------------------

  function renderPager() {
    const shown = rows().length;
    const page = state.cursors.length;
    $("list-total").textContent = state.filtered ? `共 ${state.total} 条符合条件` : `共 ${state.total} 条待审`;
    $("page-info").textContent = `第 ${page} 页 · 本页 ${shown} 条`;
    $("prev-page").disabled = page <= 1;
    $("next-page").disabled = !state.next;
    $("empty").hidden = shown > 0;
    $("empty").textContent = state.filtered ? "没有符合条件的记录。" : state.next || page > 1 ? "本页已审完。" : "队列已清空：没有待审的记录。";
  }

  // Loads the page that starts after the last cursor in `state.cursors` (never an offset: rows reviewed
  // meanwhile would shift an offset and make the next page skip rows).
  async function loadList() {
    const seq = ++state.listSeq;
    const after = state.cursors[state.cursors.length - 1];
    const query = new URLSearchParams({ ...state.params, limit: PAGE_SIZE });
    if (after) query.set("after", after);
    const page = await api(state.filtered ? `/v1/audit?${query}` : `/v1/audit/queue?${query}`);
    if (seq !== state.listSeq) return; // a newer load has started
    state.total = page.total;
    state.next = page.next || null;
    state.items = new Map(page.items.map((item) => [item.id, item]));
    state.twins = new Map();
    for (const item of page.items) state.twins.set(item.message, (state.twins.get(item.message) || 0) + 1);
    state.picks = new Map();
    const table = $("queue");
    table.dataset.mode = state.filtered ? "filtered" : "queue";
    $("list-mode").textContent = state.filtered ? "审核记录（已筛选）" : "待审队列";
    table.tBodies[0].replaceChildren(...page.items.map(row));
    for (const tr of rows()) renderPicks(tr);
    setCurrent(page.items.length ? page.items[0].id : null, false);
    renderPager();
  }

  // A row reviewed: it leaves the queue (a filtered list keeps it, marked) and the keys move on to the next row.
  function markReviewed(id, review) {
    const tr = rowOf(id);
    const item = state.items.get(id);
    if (item) item.review = review;
    state.picks.delete(id);
    if (!tr) return;
    const all = rows();
    const at = all.indexOf(tr);
    const following = all[at + 1] || all[at - 1] || null;
    if (!state.filtered || state.params.reviewed === "false") {
      tr.remove();
      state.total = Math.max(0, state.total - 1);
      if (state.current === id) setCurrent(following ? following.dataset.id : null);
    } else {
      tr.dataset.reviewed = "true";
      const td = tr.querySelector("td.review");
      td.querySelector(".reviewed-note")?.remove();
      td.append(reviewedNote(review));
      renderPicks(tr);
      if (state.current === id && all[at + 1]) setCurrent(all[at + 1].dataset.id);
    }
  }

  function reviewOf(id, intents) {
    const tr = rowOf(id);
    const item = state.items.get(id);
    const picks = state.picks.get(id) || [];
    return {
      intents: intents || (picks.length ? picks : [item.intent]),
      psychology: (tr && tr.querySelector("select.relabel-psychology").value) || null,
      reviewer: $("reviewer").value.trim() || "qa",
      comment: (tr && tr.querySelector("input.comment").value.trim()) || null,
    };
  }

  async function submitReview(id, intents) {
    const tr = rowOf(id);
    if (!tr || tr.dataset.busy === "true") return;
    const buttons = Array.from(tr.querySelectorAll("td.review button"));
    tr.dataset.busy = "true";
    buttons.forEach((b) => (b.disabled = true));
    try {
      const review = await api(`/v1/audit/${encodeURIComponent(id)}/review`, { method: "POST", payload: reviewOf(id, intents) });
      showError("");
      markReviewed(id, review);
      renderPager();
      if (!state.filtered && !rows().length && (state.next || state.cursors.length > 1)) await loadList(); // the rest past the cursor
      await loadReport();
    } catch (err) {
      showError(err.message);
    } finally {
      tr.dataset.busy = "false";
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  // ---- bulk: the same review for every row with the same message ------------------------------------------

  async function openBulk(id) {
    const item = state.items.get(id);
    if (!item) return;
    setCurrent(id, false);
    const review = reviewOf(id);
    try {
      const page = await api(`/v1/audit?${new URLSearchParams({ same_as: id, limit: MAX_BULK })}`);
      const all = page.items;
      const unreviewed = all.filter((i) => !i.review);
      state.bulk = { id, review, all, unreviewed };
      const predicted = {};
      for (const i of all) predicted[i.intent] = (predicted[i.intent] || 0) + 1;
      $("bulk-message").textContent = item.message;
      $("bulk-count").textContent =
        `共 ${page.total} 条相同消息，其中 ${unreviewed.length} 条未审核` + (page.total > all.length ? `（一次最多处理 ${MAX_BULK} 条）` : "") + "。";
      $("bulk-intents").textContent = `系统预测：${Object.entries(predicted).map(([i, n]) => `${intentName(i)} ${n} 条`).join("、")}`;
      $("bulk-review").textContent =
        `将标注为：${review.intents.map(intentName).join(" + ")} · 心理：${psychologyName(review.psychology)}` + (review.comment ? ` · 备注：${review.comment}` : "");
      $("bulk-include-reviewed").checked = false;
      renderBulkButton();
      $("bulk").hidden = false;
      $("bulk").scrollIntoView({ block: "nearest" });
      $("bulk-confirm").focus();
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  function bulkTargets() {
    const b = state.bulk;
    return b ? ($("bulk-include-reviewed").checked ? b.all : b.unreviewed) : [];
  }

  function renderBulkButton() {
    const n = bulkTargets().length;
    $("bulk-confirm").textContent = `全部确认（${n} 条）`;
    $("bulk-confirm").disabled = n === 0;
  }

  function closeBulk() {
    state.bulk = null;
    $("bulk").hidden = true;
  }

  async function confirmBulk() {
    const targets = bulkTargets();
    if (!state.bulk || !targets.length) return;
    const { review } = state.bulk;
    $("bulk-confirm").disabled = true;
    try {
      const answer = await api("/v1/reviews", { method: "POST", payload: { ...review, request_ids: targets.map((i) => i.id) } });
      // Rows of other pages leave the queue too (those on this page are counted as they are removed).
      const leaving = state.filtered && state.params.reviewed !== "false" ? [] : targets.filter((i) => !i.review && !rowOf(i.id));
      state.total = Math.max(0, state.total - leaving.length);
      answer.reviews.forEach((r, i) => markReviewed(targets[i].id, r)); // in the order of request_ids
      closeBulk();
      showError("");
      showNotice(`已批量确认 ${answer.reviews.length} 条相同消息。`);
      renderPager();
      if (!state.filtered && !rows().length && (state.next || state.cursors.length > 1)) await loadList();
      await loadReport();
    } catch (err) {
      showError(err.message);
      renderBulkButton();
    }
  }

  // ---- export ------------------------------------------------------------------------------------------

  async function exportReviews(format, button) {
    let dates;
    try {
      dates = readDates();
    } catch (err) {
      showError(err.message);
      return;
    }
    const params = { format };
    if (dates.since) params.since = dates.since;
    if (dates.until) params.until = dates.until;
    button.disabled = true;
    try {
      const response = await api(`/v1/export?${new URLSearchParams(params)}`, { raw: true });
      const blob = await response.blob();
      const range = dates.since || dates.until ? `-${dates.since || "start"}_${dates.until || "end"}` : "";
      const name = `huashu-reviews${range}.${format}`;
      const link = el("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      showError("");
      const text = await blob.text();
      const lines = text.split("\n").filter((line) => line.trim()).length - (format === "csv" ? 1 : 0);
      showNotice(lines > 0 ? `已导出 ${name}` : `已导出 ${name}：所选日期内没有已审核的记录。`);
    } catch (err) {
      showError(err.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---- the report ----------------------------------------------------------------------------------------

  function scoreCell(className, value) {
    const td = el("td", { className }, fixed(value, 3));
    if (value === null || value === undefined) td.classList.add("nodata");
    return td;
  }

  function renderPerIntent(perIntent) {
    const rows = Object.entries(perIntent).map(([id, s]) =>
      el(
        "tr",
        { dataset: { intent: id } },
        el("th", { scope: "row" }, intentName(id)),
        scoreCell("precision", s.precision),
        scoreCell("recall", s.recall),
        scoreCell("f1", s.f1),
        el("td", { className: "support" }, s.support),
      ),
    );
    $("per-intent").tBodies[0].replaceChildren(...rows);
  }

  function renderConfusion(confusion) {
    const { labels, matrix } = confusion;
    const max = Math.max(1, ...matrix.flat());
    const table = $("confusion");
    const head = el("tr", {}, el("th", { scope: "col", className: "corner" }, "审核 ↓ / 预测 →"));
    for (const id of labels) head.append(el("th", { scope: "col", title: `预测为${intentName(id)}` }, intentName(id)));
    table.tHead.replaceChildren(head);
    const body = labels.map((gold, i) => {
      const tr = el("tr", { dataset: { gold } }, el("th", { scope: "row", title: `审核为${intentName(gold)}` }, intentName(gold)));
      labels.forEach((pred, j) => {
        const count = matrix[i][j];
        const td = el("td", { dataset: { gold, pred, count }, title: `审核为${intentName(gold)}、预测为${intentName(pred)}：${count} 条` }, count);
        // Intensity proportional to the count: green on the diagonal (right), red off it (confusions).
        const alpha = count / max;
        td.style.backgroundColor = i === j ? `rgba(22, 128, 61, ${alpha.toFixed(3)})` : `rgba(200, 30, 30, ${alpha.toFixed(3)})`;
        if (alpha > 0.55) td.classList.add("dark");
        if (i === j) td.classList.add("diagonal");
        tr.append(td);
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...body);
  }

  // One bar of a chart: segments as fractions of the whole (widths set through the CSSOM, which the page's
  // Content-Security-Policy allows; no style attribute is written).
  function bar(name, segments, value, { title = "", data = {}, detail = null } = {}) {
    const track = el("span", { className: "track" });
    for (const [className, fraction] of segments) {
      const fill = el("span", { className: `fill ${className}` });
      fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
      track.append(fill);
    }
    return el(
      "div",
      { className: "bar-row", title, dataset: data },
      el("span", { className: "bar-label" }, name, detail),
      track,
      el("span", { className: `bar-value${value === NO_DATA ? " nodata" : ""}` }, value),
    );
  }

  function renderHistogram(bins) {
    const max = Math.max(1, ...bins.map((b) => b.count));
    const bars = bins.map((b) => {
      const right = b.reviewed ? `（审核 ${b.reviewed}，正确 ${percent(b.correct / b.reviewed)}）` : "";
      return bar(`${b.low.toFixed(1)}–${b.high.toFixed(1)}`, [["count", b.count / max]], `${b.count}${right}`, {
        data: { low: String(b.low), count: String(b.count) },
      });
    });
    $("histogram").replaceChildren(...bars);
  }

  const adoptionSegments = (a) => (a.shown ? [["sent", a.sent / a.shown], ["edited", a.edited / a.shown]] : []);
  const adoptionTitle = (a) => `展示 ${a.shown} · 点击 ${a.clicked} · 直接发送 ${a.sent} · 改后发送 ${a.edited} · 忽略 ${a.dismissed}`;

  // All replies' texts (GET /v1/replies, read once, 500 at a time): labels for the adoption charts.
  function replyTexts() {
    if (!state.replyTexts) {
      state.replyTexts = (async () => {
        const texts = {};
        for (let offset = 0; ; offset += 500) {
          const page = await api(`/v1/replies?limit=500&offset=${offset}`);
          for (const r of page.replies) texts[r.id] = r.text;
          if (!page.replies.length || offset + page.replies.length >= page.total) return texts;
        }
      })();
      state.replyTexts.catch(() => (state.replyTexts = null)); // tried again with the next report
    }
    return state.replyTexts;
  }

  async function renderAdoption(report) {
    const perIntent = Object.entries(report.adoption_per_intent).map(([id, a]) =>
      bar(intentName(id), adoptionSegments(a), percent(a.rate), { title: adoptionTitle(a), data: { intent: id, rate: String(a.rate ?? "") } }),
    );
    $("adoption-intents").replaceChildren(...perIntent);
    let texts = {};
    const note = $("reply-texts-note");
    note.hidden = true;
    if (report.adoption_per_reply.length) {
      try {
        texts = await replyTexts();
      } catch (err) {
        note.textContent = `无法读取话术文本，只显示编号。${err.message}`;
        note.hidden = false;
      }
    }
    const replyName = (id) => el("span", { className: "reply-text", title: `${id}：${texts[id] || ""}` }, texts[id] || id);
    const perReply = report.adoption_per_reply;
    const shown = state.adoptionAll ? perReply : perReply.slice(0, REPLIES_SHOWN);
    $("adoption-replies").replaceChildren(
      ...(shown.length
        ? shown.map((a) =>
            bar(replyName(a.reply_id), adoptionSegments(a), percent(a.rate), {
              title: adoptionTitle(a),
              data: { reply: a.reply_id, rate: String(a.rate ?? "") },
              detail: el("small", { className: "reply-id" }, `${a.reply_id} · 展示 ${a.shown}`),
            }),
          )
        : [el("p", { className: "muted" }, "所选日期内没有展示过话术。")]),
    );
    const more = $("more-replies");
    more.hidden = perReply.length <= REPLIES_SHOWN;
    more.textContent = state.adoptionAll ? "只看前 15 条" : `显示全部 ${perReply.length} 条`;
    const shownTimes = new Map(perReply.map((a) => [a.reply_id, a.shown]));
    $("never-used").replaceChildren(
      ...report.never_used.map((id) =>
        el(
          "li",
          { dataset: { reply: id } },
          el("span", { className: "reply-text" }, texts[id] || id),
          el("small", { className: "reply-id" }, `${id} · 展示 ${shownTimes.get(id) ?? "?"} 次`),
        ),
      ),
    );
    $("never-used-count").textContent = report.never_used.length ? `${report.never_used.length} 条` : "（没有：展示过的话术都被采用过）";
  }

  // The report covers the date range of the applied filters.
  async function loadReport() {
    const seq = ++state.reportSeq;
    const params = {};
    if (state.params.since) params.since = state.params.since;
    if (state.params.until) params.until = state.params.until;
    const query = new URLSearchParams(params).toString();
    const report = await api(`/v1/reports/intents${query ? `?${query}` : ""}`);
    if (seq !== state.reportSeq) return;
    $("reviewed-count").textContent = report.reviewed;
    $("requests-count").textContent = report.requests ?? NO_DATA;
    for (const [id, value] of [["accuracy", report.accuracy], ["macro-f1", report.macro_f1]]) {
      $(id).textContent = fixed(value, 3);
      $(id).classList.toggle("nodata", value === null || value === undefined);
    }
    $("report-range").textContent = params.since || params.until ? `${params.since || "最早"} 至 ${params.until || "今天"}` : "全部日期";
    renderPerIntent(report.per_intent);
    renderConfusion(report.confusion);
    renderHistogram(report.confidence_histogram);
    state.lastReport = report;
    await renderAdoption(report);
  }

  // ---- keys ---------------------------------------------------------------------------------------------

  // j / k move, 1–8 pick intents in the contract's order, Enter saves, Esc clears the picks; never while the
  // QA lead types in a field (nor during an input method's composition, nor with a modifier held).
  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
  }

  function onKey(event) {
    if (event.isComposing || event.keyCode === 229 || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    const onChip = event.target instanceof Element && event.target.classList.contains("chip");
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
    } else if (/^[1-9]$/.test(event.key) && Number(event.key) <= INTENT_IDS.length && state.current) {
      event.preventDefault();
      togglePick(state.current, INTENT_IDS[Number(event.key) - 1]);
    } else if (event.key === "Enter" && state.current && (onChip || event.target === document.body || event.target === document.documentElement)) {
      event.preventDefault();
      submitReview(state.current);
    } else if (event.key === "Escape" && state.current) {
      state.picks.delete(state.current);
      const tr = rowOf(state.current);
      if (tr) renderPicks(tr);
    }
  }

  // ---- wiring -------------------------------------------------------------------------------------------

  // Applies the filter form: any filter set lists GET /v1/audit, none the review queue; paging starts over.
  async function refresh() {
    try {
      state.params = readFilters();
    } catch (err) {
      showError(err.message);
      return;
    }
    state.filtered = Object.keys(state.params).length > 0;
    state.cursors = [null];
    closeBulk();
    try {
      await Promise.all([loadList(), loadReport()]);
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }

  function page(step) {
    const before = [...state.cursors];
    if (step > 0 && state.next) state.cursors.push(state.next);
    else if (step < 0 && state.cursors.length > 1) state.cursors.pop();
    else return;
    loadList()
      .then(() => {
        showError("");
        $("list-section").scrollIntoView({ block: "start" });
      })
      .catch((err) => {
        state.cursors = before; // still on the page shown
        showError(err.message);
      });
  }

  function init() {
    INTENT_IDS = Object.keys(CONTRACT.intents);
    fillSelect($("f-intent"), INTENT_IDS, intentName);
    fillSelect($("f-psychology"), Object.keys(CONTRACT.psychology), psychologyName);
    // What the QA lead typed while the page was starting wins over what the tab stored.
    if (!$("api-key").value) $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
    const reviewer = $("reviewer");
    if (reviewer.value === reviewer.defaultValue) reviewer.value = sessionStorage.getItem(REVIEWER_STORE) || reviewer.defaultValue;
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
      sessionStorage.setItem(REVIEWER_STORE, $("reviewer").value.trim() || "qa");
      state.replyTexts = null;
      refresh();
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      refresh();
    });
    $("clear-filters").addEventListener("click", () => {
      clearFilters();
      refresh();
    });
    for (const id of ["f-since", "f-until"]) {
      $(id).addEventListener("change", () => {
        try {
          readDates();
        } catch (err) {
          showError(err.message);
        }
      });
    }
    $("export-csv").addEventListener("click", (event) => exportReviews("csv", event.currentTarget));
    $("export-jsonl").addEventListener("click", (event) => exportReviews("jsonl", event.currentTarget));
    $("prev-page").addEventListener("click", () => page(-1));
    $("next-page").addEventListener("click", () => page(1));
    $("bulk-confirm").addEventListener("click", confirmBulk);
    $("bulk-cancel").addEventListener("click", closeBulk);
    $("bulk-include-reviewed").addEventListener("change", renderBulkButton);
    $("more-replies").addEventListener("click", () => {
      state.adoptionAll = !state.adoptionAll;
      if (state.lastReport) renderAdoption(state.lastReport);
    });
    $("queue").tBodies[0].addEventListener("click", (event) => {
      const tr = event.target instanceof Element ? event.target.closest("tr[data-id]") : null;
      if (tr && tr.dataset.id !== state.current) setCurrent(tr.dataset.id, false);
    });
    document.addEventListener("keydown", onKey);
    for (const id of ["save-key", "apply-filters"]) $(id).disabled = false; // the forms are handled from now on
    refresh();
  }

  loadContract()
    .then((contract) => {
      CONTRACT = contract;
      init();
    })
    .catch(() => showError("页面无法读取标签表（/ui/contract.json）：请确认服务正在运行后刷新页面。"));
})();
