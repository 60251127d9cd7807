// The agent console's behaviour: the conversation, /v1/suggest on Enter, number keys to pick a reply,
// the draft checked live by /v1/lint, and /v1/feedback when a picked reply is sent.
// Customer text, replies and everything else from the server reach the page as text nodes only, never as markup.
"use strict";

(() => {
  const KEY_STORE = "huashu.agent.key";
  const TOP_K = 5;
  const LINT_DELAY_MS = 150;
  const SLOW_MS = 200; // the target round trip from Enter to suggestions
  // Labels, variables and limits come from the server (/ui/contract.json) when the page starts.
  let CONTRACT = null;
  const label = (table, id) => (CONTRACT[table] && CONTRACT[table][id]) || id;

  const $ = (id) => document.getElementById(id);
  const state = {
    turns: [], // {role: "customer" | "agent", text}, oldest first
    current: null, // the latest /v1/suggest answer
    picked: null, // {request_id, reply_id, index, text}: the suggestion the draft started from
    asking: false,
    sending: false,
    confirm: false, // the draft has errors and the agent was asked to press send again
    lint: { seq: 0, timer: null, text: null, findings: [], failed: null },
    rtts: [],
  };

  const fixed = (x, digits = 2) => (x === null || x === undefined ? "" : Number(x).toFixed(digits));

  function setStatus(message, kind = "info") {
    const line = $("status");
    line.textContent = message || "";
    line.dataset.kind = message ? kind : "";
  }

  const post = (path, payload) =>
    callApi(path, { method: "POST", payload, keyStore: KEY_STORE, keyHint: "（请在右上角填入坐席 API key）" });

  // ---- the conversation ------------------------------------------------------------------------

  function turnNode(role, text, meta) {
    return el(
      "li",
      { className: `turn ${role}`, dataset: { role } },
      el("span", { className: "who" }, role === "customer" ? "客户" : "客服"),
      el("div", { className: "text" }, text),
      meta ? el("div", { className: "meta" }, meta) : null,
    );
  }

  function showTurn(node) {
    const list = $("conversation");
    list.append(node);
    list.scrollTop = list.scrollHeight;
  }

  function readVariables() {
    const values = {};
    for (const input of $("variables").elements) {
      const value = input.name ? input.value.trim() : "";
      if (value) values[input.name] = value;
    }
    return values;
  }

  function showRtt(ms) {
    state.rtts.push(ms);
    const rtt = $("rtt");
    rtt.textContent = `往返 ${ms} ms`;
    rtt.dataset.ms = String(ms);
    rtt.classList.toggle("slow", ms > SLOW_MS);
    rtt.title = `获取建议的往返时间，最近几次：${state.rtts.slice(-10).join(" / ")} ms（目标 ${SLOW_MS} ms 内）`;
  }

  // Enter in the message box: the message, the earlier turns and the variables go to /v1/suggest.
  async function ask() {
    const box = $("message");
    const text = box.value.trim();
    if (!text || state.asking) return;
    state.asking = true;
    const history = state.turns.slice(-CONTRACT.limits.max_history).map(({ role, text: said }) => ({ role, text: said }));
    const node = turnNode("customer", text);
    node.classList.add("pending");
    showTurn(node);
    box.value = "";
    $("rtt").textContent = "往返 … ms";
    const started = performance.now();
    try {
      const answer = await post("/v1/suggest", { message: text, history, variables: readVariables(), top_k: TOP_K });
      showRtt(Math.round(performance.now() - started));
      state.turns.push({ role: "customer", text });
      node.classList.remove("pending");
      node.dataset.requestId = answer.request_id;
      node.append(el("div", { className: "meta" }, `${answer.intent.label} · ${label("emotions", answer.emotion.level)}`));
      state.current = answer;
      renderAnalysis(answer);
      renderSuggestions(answer);
      setStatus("");
      // Number keys pick at once, unless the agent is already busy in the draft or typing the next message.
      const active = document.activeElement;
      if (!active || active === document.body || (active === box && !box.value)) $("suggestions").focus();
    } catch (err) {
      node.remove();
      if (!box.value) box.value = text;
      $("rtt").textContent = "往返 – ms";
      setStatus(`获取建议失败：${err.message}`, "error");
    } finally {
      state.asking = false;
    }
  }

  // ---- the reading of the message ----------------------------------------------------------------

  function fillCues(list, cues) {
    list.replaceChildren(...(cues || []).map((cue) => el("li", {}, cue)));
  }

  function renderAnalysis(answer) {
    const pane = $("analysis-pane");
    pane.dataset.historyUsed = String(Boolean(answer.history_used));
    $("history-used").hidden = !answer.history_used;

    const intent = $("intent-badge");
    intent.dataset.id = answer.intent.id;
    intent.querySelector(".value").textContent = answer.intent.label;
    intent.querySelector(".confidence").textContent = fixed(answer.intent.confidence);
    intent.title = answer.intents.slice(0, 3).map((i) => `${i.label} ${fixed(i.confidence)}`).join(" · ");

    const psychology = $("psychology-badge");
    const p = answer.psychology;
    psychology.dataset.id = p ? p.id : "";
    psychology.dataset.family = p ? p.family : "";
    psychology.querySelector(".value").textContent = p ? p.label : "无";
    psychology.querySelector(".confidence").textContent = p ? fixed(p.confidence) : "";
    fillCues(psychology.querySelector(".cues"), p ? p.cues : []);

    const emotion = $("emotion-badge");
    emotion.dataset.level = answer.emotion.level;
    emotion.querySelector(".value").textContent = label("emotions", answer.emotion.level);
    emotion.querySelector(".confidence").textContent = fixed(answer.emotion.score);
    fillCues(emotion.querySelector(".cues"), answer.emotion.cues);

    $("escalation").hidden = !answer.escalate;
    $("escalate-reason").textContent = answer.escalate ? answer.escalate_reason || "" : "";
    $("handoff").hidden = !answer.handoff;
    $("guidance").replaceChildren(...answer.guidance.map((step) => el("li", {}, step)));
  }

  // ---- suggestions ---------------------------------------------------------------------------------

  function renderSuggestions(answer) {
    const items = answer.replies.map((reply, i) => {
      const meta = el(
        "div",
        { className: "meta" },
        el("span", { className: "category" }, label("categories", reply.category)),
        el("span", { className: "why" }, reply.why),
      );
      if (reply.needs_edit) {
        const missing = reply.missing.map((name) => label("variables", name)).join("、");
        meta.append(el("span", { className: "needs-edit" }, `需补充：${missing || "内容"}`));
      }
      const item = el(
        "li",
        {
          className: reply.needs_edit ? "needs-edit" : "",
          title: "点击或按数字键放入草稿",
          dataset: { index: String(i + 1), id: reply.id, category: reply.category, needsEdit: String(reply.needs_edit) },
        },
        el("span", { className: "num" }, String(i + 1)),
        el("div", { className: "body" }, el("p", { className: "text" }, reply.text), meta),
      );
      item.addEventListener("click", () => pick(i));
      return item;
    });
    $("suggestions").replaceChildren(...items);
    $("suggestions").dataset.requestId = answer.request_id;
    $("no-suggestions").hidden = items.length > 0;
    markPicked();
  }

  function markPicked() {
    for (const item of $("suggestions").children) {
      const picked = state.picked && state.picked.request_id === state.current?.request_id && state.picked.reply_id === item.dataset.id;
      item.classList.toggle("picked", Boolean(picked));
      if (picked) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    }
  }

  // Puts suggestion `index` (0-based) into the draft; a reply still missing a value has its first 【…】 selected.
  function pick(index) {
    const answer = state.current;
    const reply = answer && answer.replies[index];
    if (!reply) return;
    const again = state.picked && state.picked.request_id === answer.request_id && state.picked.reply_id === reply.id;
    state.picked = { request_id: answer.request_id, reply_id: reply.id, index: index + 1, text: reply.text };
    // The pick is the first step of the adoption funnel (clicked → sent/edited); a failure is shown, not dropped.
    if (!again) {
      post("/v1/feedback", { request_id: answer.request_id, reply_id: reply.id, action: "clicked" })
        .catch((err) => setStatus(`选用没有记录：${err.message}`, "error"));
    }
    const draft = $("draft");
    draft.value = reply.text;
    draftChanged({ lintNow: true });
    markPicked();
    draft.focus();
    const gap = reply.needs_edit ? /【[^】]*】/.exec(reply.text) : null;
    if (gap) draft.setSelectionRange(gap.index, gap.index + gap[0].length);
    else draft.setSelectionRange(draft.value.length, draft.value.length);
  }

  const isTextEntry = (node) => node instanceof Element && Boolean(node.closest("input, textarea, select, [contenteditable]"));

  // 1–5 pick a suggestion anywhere but in a text field, where digits are text; Alt+1–5 picks everywhere.
  function onKey(event) {
    const match = /^(?:Digit|Numpad)([1-9])$/.exec(event.code);
    if (!match || event.ctrlKey || event.metaKey || event.shiftKey || event.isComposing) return;
    const n = Number(match[1]);
    if (!event.altKey && isTextEntry(event.target)) return;
    if (!state.current || n > state.current.replies.length) return;
    event.preventDefault();
    pick(n - 1);
  }

  // ---- the draft and its check ----------------------------------------------------------------------

  function lintAgain() {
    clearTimeout(state.lint.timer);
    state.lint.timer = null;
    const text = $("draft").value;
    const seq = ++state.lint.seq;
    if (!text) {
      state.lint.text = text;
      state.lint.findings = [];
      state.lint.failed = null;
      renderFindings();
      return Promise.resolve([]);
    }
    return post("/v1/lint", { text }).then(
      (answer) => {
        if (seq === state.lint.seq) {
          state.lint.text = text;
          state.lint.findings = answer.findings;
          state.lint.failed = null;
          renderFindings();
          if ($("status").dataset.kind === "lint") setStatus("");
        }
        return answer.findings;
      },
      (err) => {
        if (seq === state.lint.seq) {
          state.lint.text = text;
          state.lint.findings = [];
          state.lint.failed = err;
          renderFindings();
          setStatus(`草稿检查失败：${err.message}`, "lint");
        }
        throw err;
      },
    );
  }

  function draftChanged({ lintNow = false } = {}) {
    state.confirm = false;
    renderFindings();
    clearTimeout(state.lint.timer);
    if (lintNow) lintAgain().catch(() => {});
    else state.lint.timer = setTimeout(() => lintAgain().catch(() => {}), LINT_DELAY_MS);
  }

  // The findings that still fit the draft: until the next check answers, an edit before a finding moves
  // it and it is left out rather than highlighted in the wrong place. Offsets are code points.
  function currentFindings(chars) {
    return state.lint.findings
      .map((finding, i) => ({ ...finding, i }))
      .filter((f) => {
        const { start, end } = f.span;
        return start >= 0 && end <= chars.length && start <= end && chars.slice(start, end).join("") === f.text;
      });
  }

  // Overlapping findings are merged into one mark (their union); the overlap inside is shaded darker.
  function highlights(chars, findings) {
    const marked = findings.filter((f) => f.span.end > f.span.start).sort((a, b) => a.span.start - b.span.start);
    const clusters = [];
    for (const f of marked) {
      const last = clusters[clusters.length - 1];
      if (last && f.span.start < last.end) {
        last.members.push(f);
        last.end = Math.max(last.end, f.span.end);
      } else clusters.push({ start: f.span.start, end: f.span.end, members: [f] });
    }
    const nodes = [];
    let pos = 0;
    for (const cluster of clusters) {
      if (cluster.start > pos) nodes.push(chars.slice(pos, cluster.start).join(""));
      const severity = cluster.members.some((f) => f.severity === "error") ? "error" : "warning";
      const mark = el("mark", {
        className: `lint ${severity}`,
        dataset: { findings: cluster.members.map((f) => f.i).join(" "), start: String(cluster.start), end: String(cluster.end) },
      });
      const cuts = [...new Set(cluster.members.flatMap((f) => [f.span.start, f.span.end]))].sort((a, b) => a - b);
      for (let k = 0; k + 1 < cuts.length; k += 1) {
        const [a, b] = [cuts[k], cuts[k + 1]];
        const depth = cluster.members.filter((f) => f.span.start <= a && f.span.end >= b).length;
        const piece = chars.slice(a, b).join("");
        mark.append(depth > 1 ? el("span", { className: "overlap" }, piece) : piece);
      }
      nodes.push(mark);
      pos = cluster.end;
    }
    nodes.push(chars.slice(pos).join(""));
    // A trailing newline needs a character after it for the mirror to be as tall as the text area.
    nodes.push("\u200b");
    return nodes;
  }

  function findingItem(f) {
    const item = el(
      "li",
      {
        className: f.severity,
        dataset: { category: f.category, kind: f.kind, severity: f.severity, start: String(f.span.start), end: String(f.span.end), index: String(f.i) },
      },
      el("span", { className: "tag" }, `${label("lint_categories", f.category)}${f.severity === "error" ? " · 错误" : ""}`),
      f.text ? el("q", { className: "found", title: "在草稿中选中" }, f.text) : null,
      el("span", { className: "message" }, f.message),
    );
    if (f.suggestion !== null && f.suggestion !== undefined) {
      const apply = el("button", { type: "button", className: "apply", title: "用建议的说法替换" }, "应用");
      apply.addEventListener("click", () => applyFinding(f));
      item.append(el("span", { className: "rewrite" }, "→ ", el("span", { className: "suggestion" }, f.suggestion || "（删除）"), " ", apply));
    }
    item.querySelector("q.found")?.addEventListener("click", () => selectSpan(f));
    const mark = () => document.querySelector(`#draft-highlights mark[data-findings~="${f.i}"]`);
    item.addEventListener("mouseenter", () => mark()?.classList.add("active"));
    item.addEventListener("mouseleave", () => mark()?.classList.remove("active"));
    return item;
  }

  function renderFindings() {
    const draft = $("draft");
    const chars = Array.from(draft.value);
    const findings = currentFindings(chars);
    $("draft-highlights").replaceChildren(...highlights(chars, findings));
    $("draft-highlights").scrollTop = draft.scrollTop;
    $("findings").replaceChildren(...findings.map(findingItem));
    renderSendState();
  }

  // UTF-16 offset of code point `index` in `text`, for the text area's selection.
  const utf16 = (chars, index) => chars.slice(0, index).join("").length;

  function selectSpan(f) {
    const draft = $("draft");
    const chars = Array.from(draft.value);
    draft.focus();
    draft.setSelectionRange(utf16(chars, f.span.start), utf16(chars, f.span.end));
  }

  function applyFinding(f) {
    const draft = $("draft");
    const chars = Array.from(draft.value);
    const { start, end } = f.span;
    if (chars.slice(start, end).join("") !== f.text) {
      setStatus("草稿已经改过，等检查更新后再应用", "info");
      lintAgain().catch(() => {});
      return;
    }
    const before = chars.slice(0, start).join("") + f.suggestion;
    draft.value = before + chars.slice(end).join("");
    draftChanged({ lintNow: true });
    draft.focus();
    draft.setSelectionRange(before.length, before.length);
  }

  function renderSendState() {
    const text = $("draft").value;
    const button = $("send");
    const note = $("send-note");
    button.disabled = state.sending || !text.trim();
    button.classList.toggle("confirm", state.confirm);
    button.textContent = state.confirm ? "仍要发送" : "发送";
    if (state.confirm) {
      const errors = state.lint.findings.filter((f) => f.severity === "error").length;
      note.textContent = state.lint.failed ? "草稿未能检查：再按一次发送" : `草稿有 ${errors} 处错误：改好再发，或再按一次发送`;
      note.className = "warn";
    } else if (state.picked && text) {
      note.textContent = text === state.picked.text ? `原样发送第 ${state.picked.index} 条` : `修改后发送（第 ${state.picked.index} 条）`;
      note.className = "muted";
    } else {
      note.textContent = text ? "自写回复" : "";
      note.className = "muted";
    }
  }

  // The findings for exactly this text: the last check's, or a new one now (no waiting for the debounce).
  async function findingsFor(text) {
    if (state.lint.text === text && state.lint.timer === null) {
      if (state.lint.failed) throw state.lint.failed;
      return state.lint.findings;
    }
    return lintAgain();
  }

  async function send() {
    const draft = $("draft");
    const text = draft.value;
    if (!text.trim() || state.sending) return;
    state.sending = true;
    renderSendState();
    try {
      let errors = 0;
      let checked = true;
      try {
        errors = (await findingsFor(text)).filter((f) => f.severity === "error").length;
      } catch (_) {
        checked = false;
      }
      if (draft.value !== text) return; // edited while being checked: the agent sees the new findings first
      if ((errors || !checked) && !state.confirm) {
        state.confirm = true;
        return;
      }
      // A picked suggestion is reported: sent as it was, or edited with the text that went out.
      let feedback = "";
      const picked = state.picked;
      if (picked) {
        const body = text === picked.text
          ? { request_id: picked.request_id, reply_id: picked.reply_id, action: "sent" }
          : { request_id: picked.request_id, reply_id: picked.reply_id, action: "edited", final_text: text };
        try {
          await post("/v1/feedback", body);
          feedback = body.action === "sent" ? `（第 ${picked.index} 条原样发送，已记录）` : `（第 ${picked.index} 条修改后发送，已记录）`;
        } catch (err) {
          feedback = null;
          setStatus(`已发送，但反馈没有记录：${err.message}`, "error");
        }
      }
      state.turns.push({ role: "agent", text });
      const meta = picked ? `第 ${picked.index} 条${text === picked.text ? "" : " · 已修改"}` : "自写";
      showTurn(turnNode("agent", text, meta));
      state.picked = null;
      state.confirm = false;
      draft.value = "";
      state.lint.seq += 1; // an answer still on its way is for the old draft
      state.lint.text = "";
      state.lint.findings = [];
      state.lint.failed = null;
      markPicked();
      if (feedback !== null) setStatus(`已发送${feedback}`, "info");
      $("message").focus();
    } finally {
      state.sending = false;
      renderFindings();
    }
  }

  // ---- conversation reset, key, wiring ---------------------------------------------------------------

  function newConversation() {
    state.turns = [];
    state.current = null;
    state.picked = null;
    state.confirm = false;
    $("conversation").replaceChildren();
    $("variables").reset();
    $("message").value = "";
    $("draft").value = "";
    state.lint.seq += 1;
    clearTimeout(state.lint.timer);
    state.lint.timer = null;
    state.lint.text = "";
    state.lint.findings = [];
    state.lint.failed = null;
    $("suggestions").replaceChildren();
    $("no-suggestions").hidden = false;
    $("escalation").hidden = true;
    $("handoff").hidden = true;
    $("history-used").hidden = true;
    $("analysis-pane").dataset.historyUsed = "false";
    for (const id of ["intent-badge", "psychology-badge"]) $(id).dataset.id = "";
    $("emotion-badge").dataset.level = "";
    for (const badge of document.querySelectorAll("#badges .badge")) {
      badge.querySelector(".value").textContent = "–";
      badge.querySelector(".confidence").textContent = "";
      badge.querySelector(".cues")?.replaceChildren();
    }
    $("guidance").replaceChildren();
    renderFindings();
    setStatus("新会话：会话记录、变量和草稿已清空", "info");
    $("message").focus();
  }

  function init() {
    $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
      setStatus(key ? "已使用这个 key" : "不带 key 访问", "info");
      $("message").focus();
    });
    $("variables").addEventListener("submit", (event) => event.preventDefault());
    $("new-conversation").addEventListener("click", newConversation);

    const message = $("message");
    message.addEventListener("keydown", (event) => {
      // While an input method is composing, Enter picks its candidate: it must not send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        ask();
      } else if (event.key === "Escape") $("suggestions").focus();
    });

    const draft = $("draft");
    draft.addEventListener("input", () => draftChanged());
    draft.addEventListener("scroll", () => ($("draft-highlights").scrollTop = draft.scrollTop));
    draft.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        send();
      } else if (event.key === "Escape") $("suggestions").focus();
    });
    $("send").addEventListener("click", send);
    document.addEventListener("keydown", onKey);
    renderFindings();
    message.focus();
  }

  loadContract()
    .then((contract) => {
      CONTRACT = contract;
      init();
    })
    .catch((err) => setStatus(err.message, "error"));
})();
