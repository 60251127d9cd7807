// The agent console's behaviour: one tab per buyer, /v1/suggest on Enter, number keys to pick a reply, 不合适 to
// dismiss one, the phrase library (/v1/replies) behind `/`, the draft checked live by /v1/lint and held back while a
// 【…】 is unfilled, and Send: copied to the clipboard, written to the transcript, reported to /v1/feedback.
// Every buyer's conversation (turns, what the customer gave, replies sent, escalation, draft) is kept in localStorage.
// Customer text, replies and everything else from the server reach the page as text nodes only, never as markup.
"use strict";

(() => {
  const KEY_STORE = "huashu.agent.key"; // sessionStorage: the key is not kept past the browser tab
  const STORE = "huashu.agent.v1"; // localStorage prefix of the conversations
  const TABS_KEY = `${STORE}.tabs`; // {order: [conversation ids], seq}
  const ACTIVE_KEY = `${STORE}.active`; // the tab shown (sessionStorage per browser tab, localStorage as a default)
  const CODES_KEY = `${STORE}.codes`; // {reply id: shortcut code} the agent set
  const convKey = (id) => `${STORE}.conv.${id}`;

  const TOP_K = 5;
  const LINT_DELAY_MS = 150;
  const SLOW_MS = 200; // the target round trip from Enter to suggestions
  const MAX_TURNS = 200; // turns kept per buyer
  const MAX_TABS = 30;
  const UNDO_MS = 20000;
  const LIBRARY_PAGE = 500; // GET /v1/replies pages by at most 500
  const LIBRARY_SHOWN = 60;
  const CORE_VARIABLES = ["nickname", "order_id", "courier", "tracking_no", "shop_name"];
  const MEASUREMENTS = {
    height_cm: ["身高", " cm"], weight_kg: ["体重", " kg"], bust_cm: ["胸围", " cm"], waist_cm: ["腰围", " cm"],
    hip_cm: ["臀围", " cm"], foot_cm: ["脚长", " cm"], usual_size: ["平时穿", ""],
  };
  const SOURCES = { corpus: "话术库", shop: "本店话术", product: "商品信息", size: "尺码表" };

  // Labels, variables and limits come from the server (/ui/contract.json) when the page starts.
  let CONTRACT = null;
  let LABEL_TO_NAME = {}; // 订单号 → order_id: a 【订单号】 in a text is a template variable left without a value
  const label = (table, id) => (CONTRACT[table] && CONTRACT[table][id]) || id;

  const $ = (id) => document.getElementById(id);
  const state = {
    tabs: { order: [], seq: 0 },
    convs: new Map(),
    conv: null, // the conversation shown
    asking: new Set(), // conversations waiting for /v1/suggest
    sending: false,
    confirm: null, // {errors, failed, odd}: the draft needs a second press of Send
    lint: { seq: 0, timer: null, text: null, findings: [], failed: null },
    rtts: [],
    undo: null,
    undoTimer: null,
    fillKey: "",
    codes: {}, // agent-set shortcut codes
    storageWarned: false,
  };
  const library = { replies: null, loading: null, failed: null, derived: {}, facts: {}, results: [], sel: 0 };

  // ---- talking to the service, in Chinese ------------------------------------------------------------

  class ConsoleError extends Error {
    constructor(message, status, raw) {
      super(message);
      this.status = status;
      this.raw = raw || "";
    }
  }

  const FIELD_NAMES = {
    message: "消息", final_text: "回复", text: "草稿", history: "会话记录", variables: "买家信息",
    sent: "已发送列表", product_id: "商品编号", top_k: "建议条数", body: "请求",
  };

  function fieldName(field) {
    const [head, rest] = String(field || "body").split(/[.[]/, 2);
    if (head === "variables" && rest) return `买家信息「${label("variables", rest.replace(/\]$/, ""))}」`;
    return FIELD_NAMES[head] || "请求";
  }

  // One 422's first problem, said as an agent would want to read it.
  function invalid(body) {
    const problem = (body && body.detail && body.detail[0]) || {};
    const what = fieldName(problem.field);
    const limit = /at most (\d+)/.exec(problem.problem || "");
    switch (problem.type) {
      case "string_too_long":
        return `${what}太长（最多${limit ? limit[1] : CONTRACT.limits.max_message_chars}字）`;
      case "too_long":
        return `${what}条数太多（最多${limit ? limit[1] : ""}条）`;
      case "missing":
      case "string_too_short":
        return `${what}不能为空`;
      case "value_error":
        return /empty|whitespace/.test(problem.problem || "") ? `${what}不能为空` : `${what}的内容不符合要求`;
      default:
        return `${what}的内容不符合要求，请检查后再试`;
    }
  }

  function chinese(status, body, retryAfter) {
    const code = body && body.error;
    const raw = (body && body.message) || "";
    switch (status) {
      case 401:
        return /unknown/i.test(raw) ? "坐席密钥不对：请核对后在右上角重新填入（401）" : "需要坐席密钥：请在右上角填入后点“使用”（401）";
      case 403: return "这个密钥没有坐席权限：请换用坐席密钥（403）";
      case 404: return "服务里找不到这条记录，可能已经过期（404）";
      case 409: return "和已保存的内容冲突，请刷新后再试（409）";
      case 413: return "内容太长，服务拒收了（413）";
      case 422: return invalid(body);
      case 429: return retryAfter ? `操作太频繁：请 ${retryAfter} 秒后再试（429）` : "操作太频繁：请稍等一会儿再试（429）";
      case 503:
        return code === "store_unavailable"
          ? "服务暂时存不了数据，请联系管理员（503）"
          : "服务正在启动或暂时不可用：请稍等几秒再试（503）";
      case 504: return "服务处理超时：请稍后再试（504）";
      default:
        return status >= 500 ? `服务出错了：请稍后再试，或联系管理员（${status}）` : `请求没有成功（${status}）`;
    }
  }

  // One call to the API with the agent's key; resolves to the answer's JSON, rejects with a ConsoleError in Chinese
  // (the server's own words kept in `raw`, shown as the status line's tooltip for whoever supports the agents).
  async function api(path, { method = "GET", payload } = {}) {
    const headers = { Accept: "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    if (payload !== undefined) method = method === "GET" ? "POST" : method;
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    } catch (err) {
      throw new ConsoleError("连不上话术服务：请检查网络，或服务是否在运行", 0, String(err));
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const raw = body && body.message ? `${response.status} ${body.error || ""}: ${body.message}` : `HTTP ${response.status}`;
      throw new ConsoleError(chinese(response.status, body, response.headers.get("Retry-After")), response.status, raw);
    }
    return body;
  }

  const post = (path, payload) => api(path, { method: "POST", payload });

  function setStatus(message, kind = "info", raw = "") {
    const line = $("status");
    line.textContent = message || "";
    line.dataset.kind = message ? kind : "";
    line.title = raw || "";
    if (!state.keepUndo) hideUndo();
  }

  // ---- storage: every buyer's conversation survives a reload ------------------------------------------

  function readJSON(storage, key, fallback) {
    try {
      const raw = storage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (_) {
      return fallback;
    }
  }

  function writeJSON(storage, key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
      return true;
    } catch (_) {
      if (!state.storageWarned) {
        state.storageWarned = true;
        setStatus("浏览器存储满了，会话没能保存：请关掉已接待完的买家标签", "error");
      }
      return false;
    }
  }

  function blank(id, n) {
    return {
      id, n, created: Date.now(), turns: [], variables: {}, auto: {}, productId: "", sent: [], dismissed: [],
      escalation: null, current: null, picked: null, library: [], draft: "", message: "",
    };
  }

  const fresh = (conv) => Object.assign(blank(conv.id, conv.n), conv);

  function save(conv) {
    writeJSON(localStorage, convKey(conv.id), conv);
  }

  function saveTabs() {
    writeJSON(localStorage, TABS_KEY, state.tabs);
  }

  function loadAll() {
    const tabs = readJSON(localStorage, TABS_KEY, null);
    state.tabs = tabs && Array.isArray(tabs.order) ? { order: [], seq: Number(tabs.seq) || 0 } : { order: [], seq: 0 };
    state.convs.clear();
    for (const id of tabs && Array.isArray(tabs.order) ? tabs.order : []) {
      const conv = readJSON(localStorage, convKey(id), null);
      if (conv && conv.id === id) {
        state.convs.set(id, fresh(conv));
        state.tabs.order.push(id);
      }
    }
  }

  function makeConversation() {
    const id = `b${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
    state.tabs.seq += 1;
    const conv = blank(id, state.tabs.seq);
    state.convs.set(id, conv);
    state.tabs.order.push(id);
    save(conv);
    saveTabs();
    return conv;
  }

  const buyerName = (conv) => (conv.variables.nickname || "").trim() || `买家 ${conv.n}`;

  // ---- tabs: several buyers at once ---------------------------------------------------------------------

  function renderTabs() {
    const list = $("tab-list");
    list.replaceChildren(
      ...state.tabs.order.map((id) => {
        const conv = state.convs.get(id);
        const active = conv === state.conv;
        const name = el("button", { type: "button", className: "tab-name", title: `切换到${buyerName(conv)}` }, buyerName(conv));
        name.setAttribute("role", "tab");
        name.setAttribute("aria-selected", String(active));
        name.addEventListener("click", () => activate(id));
        const close = el("button", { type: "button", className: "tab-close", title: `关闭${buyerName(conv)}的标签（可撤销）` }, "×");
        close.setAttribute("aria-label", `关闭${buyerName(conv)}`);
        close.addEventListener("click", () => closeTab(id));
        const tab = el("div", { className: `tab${active ? " active" : ""}${conv.escalation ? " escalated" : ""}`, dataset: { id } }, name);
        if (conv.escalation) tab.append(el("span", { className: "flag", title: "需升级处理" }, "!"));
        if (state.asking.has(id)) tab.classList.add("busy");
        tab.append(close);
        return tab;
      }),
    );
    $("buyer-name").textContent = state.conv ? `· ${buyerName(state.conv)}` : "";
  }

  function activate(id) {
    const conv = state.convs.get(id);
    if (!conv) return;
    if (state.conv && state.conv !== conv) save(state.conv);
    state.conv = conv;
    sessionStorage.setItem(ACTIVE_KEY, id);
    localStorage.setItem(ACTIVE_KEY, id);
    closeLibrary(false);
    renderAll();
  }

  function newBuyer() {
    if (state.tabs.order.length >= MAX_TABS) {
      setStatus(`最多开 ${MAX_TABS} 个买家标签：先关掉已接待完的`, "error");
      return;
    }
    const conv = makeConversation();
    activate(conv.id);
    setStatus(`已新开「${buyerName(conv)}」`, "info");
    $("message").focus();
  }

  function closeTab(id) {
    const conv = state.convs.get(id);
    if (!conv) return;
    const index = state.tabs.order.indexOf(id);
    state.tabs.order.splice(index, 1);
    state.convs.delete(id);
    localStorage.removeItem(convKey(id));
    if (!state.tabs.order.length) makeConversation();
    saveTabs();
    if (state.conv === conv) {
      state.conv = null;
      activate(state.tabs.order[Math.min(index, state.tabs.order.length - 1)]);
    } else renderTabs();
    offerUndo(`已关闭「${buyerName(conv)}」的标签`, () => {
      state.convs.set(id, conv);
      state.tabs.order.splice(Math.min(index, state.tabs.order.length), 0, id);
      save(conv);
      saveTabs();
      activate(id);
    });
  }

  // 新会话: this buyer's conversation starts again; the old one can be brought back for a while.
  function newConversation() {
    const conv = state.conv;
    const before = JSON.parse(JSON.stringify(conv));
    const empty = blank(conv.id, conv.n);
    for (const key of Object.keys(conv)) delete conv[key];
    Object.assign(conv, empty);
    save(conv);
    renderAll();
    offerUndo(`新会话：「${buyerName(fresh(before))}」的会话记录、买家信息和草稿已清空`, () => {
      for (const key of Object.keys(conv)) delete conv[key];
      Object.assign(conv, fresh(before));
      save(conv);
      if (state.conv === conv) renderAll();
      else activate(conv.id);
    });
    $("message").focus();
  }

  function offerUndo(message, restore) {
    state.keepUndo = true;
    setStatus(message, "info");
    state.keepUndo = false;
    state.undo = restore;
    $("undo").hidden = false;
    clearTimeout(state.undoTimer);
    state.undoTimer = setTimeout(hideUndo, UNDO_MS);
  }

  function hideUndo() {
    clearTimeout(state.undoTimer);
    state.undo = null;
    if ($("undo")) $("undo").hidden = true;
  }

  function undo() {
    const restore = state.undo;
    hideUndo();
    if (!restore) return;
    restore();
    setStatus("已撤销", "info");
  }

  // ---- the conversation ----------------------------------------------------------------------------------

  const clock = (ms) => new Date(ms).toTimeString().slice(0, 5);

  function turnNode(turn) {
    const node = el(
      "li",
      { className: `turn ${turn.role}`, dataset: { role: turn.role } },
      el("span", { className: "who" }, turn.role === "customer" ? "客户" : "客服"),
      el("div", { className: "text" }, turn.text),
      turn.meta ? el("div", { className: "meta" }, turn.meta) : null,
    );
    if (turn.requestId) node.dataset.requestId = turn.requestId;
    if (turn.at) node.title = new Date(turn.at).toLocaleString("zh-CN", { hour12: false });
    if (turn.role === "agent") {
      const again = el("button", { type: "button", className: "copy", title: "再复制一次，粘贴到千牛" }, "复制");
      again.addEventListener("click", async () => {
        const ok = await copyText(turn.text);
        setStatus(ok ? "已复制，可以粘贴到千牛了" : "没能复制：请选中这段文字按 Ctrl+C", ok ? "info" : "error");
      });
      const meta = node.querySelector(".meta") || node.appendChild(el("div", { className: "meta" }));
      meta.append(" ", again);
    }
    return node;
  }

  function renderTranscript() {
    const list = $("conversation");
    list.replaceChildren(...state.conv.turns.map(turnNode));
    list.scrollTop = list.scrollHeight;
  }

  function showTurn(node) {
    const list = $("conversation");
    list.append(node);
    list.scrollTop = list.scrollHeight;
  }

  function pushTurn(conv, turn) {
    conv.turns.push(turn);
    if (conv.turns.length > MAX_TURNS) conv.turns.splice(0, conv.turns.length - MAX_TURNS);
  }

  // ---- what the customer gave: the variables ---------------------------------------------------------------

  // Only the values the agent typed or confirmed go to /v1/suggest: those read from the messages are read there
  // again (the service's slots), so a correction the customer makes later is not overridden by an old value.
  function requestVariables(conv) {
    const out = {};
    for (const [name, value] of Object.entries(conv.variables)) {
      if (conv.auto[name] || !String(value).trim()) continue;
      if (Object.keys(out).length >= CONTRACT.limits.max_variables) break;
      out[name] = String(value).trim().slice(0, CONTRACT.limits.max_variable_chars);
    }
    return out;
  }

  // The service's slots (order number, courier, tracking number, size …) fill the empty fields and those it
  // filled before; a value the agent typed is never overwritten. Returns the labels of what changed.
  function takeSlots(conv, slots) {
    const changed = [];
    for (const [name, value] of Object.entries(slots || {})) {
      if (!(name in CONTRACT.variables) || !value) continue;
      const had = conv.variables[name];
      if (had && !conv.auto[name]) continue;
      if (had === value) continue;
      conv.variables[name] = value;
      conv.auto[name] = true;
      changed.push(label("variables", name));
    }
    return changed;
  }

  function variableInput(name, conv) {
    const input = el("input", { type: "text", name, maxLength: CONTRACT.limits.max_variable_chars, value: conv.variables[name] || "" });
    return el("label", {}, `${label("variables", name)} `, input);
  }

  function renderVariables() {
    const conv = state.conv;
    const form = $("variables");
    const extra = Object.keys(conv.variables).filter((name) => !CORE_VARIABLES.includes(name) && name in CONTRACT.variables);
    const shown = [...$("extra-variables").querySelectorAll("input")].map((i) => i.name);
    if (extra.join() !== shown.join()) $("extra-variables").replaceChildren(...extra.map((name) => variableInput(name, conv)));
    for (const input of form.querySelectorAll("input[name]")) {
      const value = conv.variables[input.name] || "";
      if (input.value !== value) input.value = value;
      const auto = Boolean(conv.auto[input.name] && value);
      input.classList.toggle("auto", auto);
      input.title = auto ? "从客户消息里识别的，可修改" : "";
    }
    $("product-id").value = conv.productId || "";
    renderBuyerSummary();
  }

  // What the buyer gave, on one line: read with the buyer info folded (as it starts on a narrow screen).
  function renderBuyerSummary() {
    const conv = state.conv;
    const parts = Object.entries(conv.variables)
      .filter(([, value]) => String(value).trim())
      .map(([name, value]) => (name === "nickname" ? value : `${label("variables", name)} ${value}`));
    if (conv.productId) parts.push(`商品 ${conv.productId}`);
    $("buyer-summary").textContent = parts.length ? parts.join(" · ") : "还没有";
  }

  function onVariableInput(event) {
    const input = event.target;
    const conv = state.conv;
    if (input.id === "product-id") {
      conv.productId = input.value.trim();
      save(conv);
      renderBuyerSummary();
      return;
    }
    if (!input.name) return;
    const value = input.value;
    if (value.trim()) conv.variables[input.name] = value;
    else delete conv.variables[input.name];
    delete conv.auto[input.name]; // typed or corrected by the agent: theirs from now on
    input.classList.remove("auto");
    input.title = "";
    save(conv);
    renderBuyerSummary();
    if (input.name === "nickname") renderTabs();
  }

  // A value set (or changed) fills its 【…】 in the suggestions and in the draft.
  function onVariableChange(event) {
    const name = event.target.name;
    if (!name) return;
    renderSuggestions();
    fillDraft(name, state.conv.variables[name]);
  }

  // ---- 【…】: values still to fill ----------------------------------------------------------------------

  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  // The template variables the text still asks for: 【订单号】 marks and raw {order_id} slots, in text order.
  function holes(text) {
    const found = [];
    const seen = new Set();
    for (const match of text.matchAll(/【([^】\n]{1,20})】|\{([^{}\n]{0,60})\}/g)) {
      let name = null;
      if (match[1] !== undefined) {
        name = LABEL_TO_NAME[match[1]];
        if (!name) continue; // 【温馨提示】 and the like: not a variable (Send asks once, see oddMarks)
      } else name = match[2].split("|")[0].trim();
      if (seen.has(match[0])) continue;
      seen.add(match[0]);
      found.push({ token: match[0], name, label: label("variables", name) });
    }
    return found;
  }

  // 【…】 that are no variable of ours: may be a shop's own emphasis, may be something left to fill.
  const oddMarks = (text) => [...new Set([...text.matchAll(/【[^】\n]{1,20}】/g)].map((m) => m[0]).filter((m) => !LABEL_TO_NAME[m.slice(1, -1)]))];

  // {name} and {name|fallback} of a library reply: the buyer's values, else the shop's facts, else the fallback, else 【label】.
  function fillTemplate(text, values) {
    return text.replace(/\{([a-z_]+)(?:\|([^{}|]*))?\}/g, (whole, name, fallback) => {
      const value = String(values[name] || "").trim();
      if (value) return value;
      if (fallback !== undefined) return fallback;
      return `【${label("variables", name)}】`;
    });
  }

  // A suggestion as the agent should see it: its 【…】 filled with what the agent has entered since.
  function shownText(reply, conv) {
    let text = reply.text;
    for (const name of reply.missing || []) {
      const value = (conv.variables[name] || "").trim();
      if (value) text = text.split(`【${label("variables", name)}】`).join(value);
    }
    return text;
  }

  // `value` in place of the draft's 【label】 and {name} of variable `name`; true when the draft changed.
  function fillDraft(name, value, { check = true } = {}) {
    const draft = $("draft");
    value = (value || "").trim();
    if (!value) return false;
    const before = draft.value;
    const after = before
      .split(`【${label("variables", name)}】`).join(value)
      .replace(new RegExp(`\\{\\s*${escapeRe(name)}\\s*(?:\\|[^{}]*)?\\}`, "g"), () => value);
    if (after === before) return false;
    draft.value = after;
    if (check) draftChanged({ lintNow: true });
    return true;
  }

  // The fill row under the draft: one field per value the draft still asks for; Enter puts it in.
  function renderFill(force = false) {
    const found = holes($("draft").value);
    const key = found.map((h) => h.token).join("|");
    $("fill").hidden = !found.length;
    if (key === state.fillKey && !force) return;
    state.fillKey = key;
    const conv = state.conv;
    $("fill-fields").replaceChildren(
      ...found.map((hole) => {
        const input = el("input", {
          type: "text", className: "fill-input", value: conv.variables[hole.name] || "", placeholder: hole.label,
          maxLength: CONTRACT.limits.max_variable_chars, dataset: { name: hole.name, token: hole.token },
        });
        input.setAttribute("aria-label", `填写${hole.label}`);
        const apply = el("button", { type: "button", className: "fill-apply" }, "填入");
        const go = () => fillHole(hole, input.value);
        input.addEventListener("keydown", (event) => {
          if (event.key === "Enter" && !event.isComposing) {
            event.preventDefault();
            go();
          } else if (event.key === "Escape") $("draft").focus();
        });
        apply.addEventListener("click", go);
        return el("span", { className: "fill-field" }, el("span", { className: "fill-token" }, hole.token), input, apply);
      }),
    );
  }

  function fillHole(hole, raw) {
    const value = raw.trim();
    if (!value) {
      setStatus(`先填上${hole.label}`, "error");
      return;
    }
    const conv = state.conv;
    if (hole.name in CONTRACT.variables) {
      conv.variables[hole.name] = value;
      delete conv.auto[hole.name];
      save(conv);
      renderVariables();
      renderSuggestions();
      if (hole.name === "nickname") renderTabs();
    }
    const draft = $("draft");
    draft.value = draft.value.split(hole.token).join(value);
    fillDraft(hole.name, value, { check: false });
    draftChanged({ lintNow: true });
    const next = document.querySelector("#fill-fields input");
    if (next) next.focus();
    else {
      draft.focus();
      draft.setSelectionRange(draft.value.length, draft.value.length);
    }
  }

  // ---- asking for suggestions ------------------------------------------------------------------------------

  function showRtt(ms) {
    state.rtts.push(ms);
    const rtt = $("rtt");
    rtt.textContent = `往返 ${ms} ms`;
    rtt.dataset.ms = String(ms);
    rtt.classList.toggle("slow", ms > SLOW_MS);
    rtt.title = `获取建议的往返时间，最近几次：${state.rtts.slice(-10).join(" / ")} ms（目标 ${SLOW_MS} ms 内）`;
  }

  // Enter in the message box: the message, the earlier turns, the values the agent gave and the replies already sent.
  async function ask() {
    let conv = state.conv;
    const box = $("message");
    const text = box.value.trim();
    if (!text || state.asking.has(conv.id)) return;
    state.asking.add(conv.id);
    // Each turn within the service's limit: one long reply sent earlier must not stop the suggestions for this buyer.
    const history = conv.turns
      .slice(-CONTRACT.limits.max_history)
      .map(({ role, text: said }) => ({ role, text: said.slice(0, CONTRACT.limits.max_message_chars) }));
    const body = { message: text, history, variables: requestVariables(conv), top_k: TOP_K, sent: conv.sent.slice(-CONTRACT.limits.max_sent) };
    if (conv.productId) body.product_id = conv.productId;
    const node = turnNode({ role: "customer", text });
    node.classList.add("pending");
    showTurn(node);
    box.value = "";
    conv.message = "";
    save(conv);
    $("rtt").textContent = "往返 … ms";
    const started = performance.now();
    try {
      const answer = await post("/v1/suggest", body);
      showRtt(Math.round(performance.now() - started));
      const live = state.convs.get(conv.id); // another browser tab of the console may have changed this buyer meanwhile
      if (live && live !== conv) conv = live;
      pushTurn(conv, {
        role: "customer", text, requestId: answer.request_id, at: Date.now(),
        meta: `${answer.intent.label} · ${label("emotions", answer.emotion.level)}`,
      });
      const filled = takeSlots(conv, answer.slots);
      if (answer.escalate) raiseEscalation(conv, answer);
      conv.current = answer;
      save(conv);
      if (conv !== state.conv) {
        renderTabs();
        return;
      }
      renderTranscript();
      renderVariables();
      renderEscalation();
      renderAnalysis();
      renderSuggestions();
      renderFill(true);
      renderTabs();
      setStatus(filled.length ? `已从客户消息填入：${filled.join("、")}（可在买家信息里修改）` : "");
      // Number keys pick at once, unless the agent is already busy in the draft or typing the next message.
      const active = document.activeElement;
      if (!active || active === document.body || (active === box && !box.value)) $("suggestions").focus({ preventScroll: true });
    } catch (err) {
      node.remove();
      if (conv === state.conv && !box.value) box.value = text;
      else if (!conv.message) conv.message = text;
      save(conv);
      $("rtt").textContent = "往返 – ms";
      setStatus(`获取建议失败：${err.message}`, "error", err.raw);
    } finally {
      state.asking.delete(conv.id);
    }
  }

  // ---- escalation: stays until an agent says it is handled ---------------------------------------------------

  function raiseEscalation(conv, answer) {
    const reason = answer.escalate_reason || "";
    if (conv.escalation) {
      conv.escalation.reason = reason || conv.escalation.reason;
      conv.escalation.count = (conv.escalation.count || 1) + 1;
    } else conv.escalation = { reason, at: Date.now(), count: 1 };
  }

  function renderEscalation() {
    const escalation = state.conv.escalation;
    $("escalation").hidden = !escalation;
    $("escalate-reason").textContent = escalation ? escalation.reason : "";
    $("escalate-since").textContent = escalation ? `${clock(escalation.at)} 起，处理好之前一直提醒` : "";
  }

  function clearEscalation() {
    const conv = state.conv;
    if (!conv.escalation) return;
    conv.escalation = null;
    save(conv);
    renderEscalation();
    renderTabs();
    setStatus(`已解除「${buyerName(conv)}」的升级提醒`, "info");
    $("message").focus();
  }

  // ---- the reading of the message ----------------------------------------------------------------------------

  const percent = (x) => (x === null || x === undefined ? "" : `${Math.round(Number(x) * 100)}%`);
  const fixed = (x, digits = 2) => (x === null || x === undefined ? "" : Number(x).toFixed(digits));

  function fillCues(list, cues) {
    list.replaceChildren(...(cues || []).map((cue) => el("li", {}, cue)));
  }

  function whyRow(term, ...values) {
    return [el("dt", {}, term), el("dd", {}, ...values)];
  }

  function renderAnalysis() {
    const answer = state.conv.current;
    const pane = $("analysis-pane");
    pane.dataset.historyUsed = String(Boolean(answer && answer.history_used));
    $("history-used").hidden = !(answer && answer.history_used);

    const intent = $("intent-badge");
    intent.dataset.id = answer ? answer.intent.id : "";
    intent.querySelector(".value").textContent = answer ? answer.intent.label : "–";

    const psychology = $("psychology-badge");
    const p = answer && answer.psychology;
    psychology.dataset.id = p ? p.id : "";
    psychology.dataset.family = p ? p.family : "";
    psychology.querySelector(".value").textContent = answer ? (p ? p.label || label("psychology", p.id) : "无明显倾向") : "–";
    fillCues(psychology.querySelector(".cues"), p ? p.cues : []);

    const emotion = $("emotion-badge");
    emotion.dataset.level = answer ? answer.emotion.level : "";
    emotion.querySelector(".value").textContent = answer ? label("emotions", answer.emotion.level) : "–";
    fillCues(emotion.querySelector(".cues"), answer ? answer.emotion.cues : []);

    $("handoff").hidden = !(answer && answer.handoff);
    $("guidance").replaceChildren(...(answer ? answer.guidance : []).map((step) => el("li", {}, step)));

    const product = answer && answer.product;
    $("product-line").hidden = !product;
    $("product-line").textContent = product ? `商品：${product.title}` : "";
    const measured = Object.entries((answer && answer.measurements) || {})
      .filter(([key]) => key in MEASUREMENTS)
      .map(([key, value]) => `${MEASUREMENTS[key][0]} ${value}${MEASUREMENTS[key][1]}`);
    const advice = answer && answer.size_advice;
    const sizeLine = [measured.length ? `买家数据：${measured.join(" · ")}` : "", advice ? `建议：${advice.reason}` : ""].filter(Boolean);
    $("size-advice").hidden = !sizeLine.length;
    $("size-advice").textContent = sizeLine.join("；");

    // The numbers behind the reading, for whoever wants to know why (closed by default).
    const rows = [];
    if (answer) {
      rows.push(...whyRow("意图", `${answer.intent.label} ${percent(answer.intent.confidence)}`));
      const others = answer.intents.slice(1, 4).map((i) => `${i.label} ${percent(i.confidence)}`).join(" · ");
      if (others) rows.push(...whyRow("其他可能", others));
      if (p) rows.push(...whyRow("心理", `${p.label || label("psychology", p.id)} ${percent(p.confidence)}`));
      rows.push(...whyRow("情绪分", `${fixed(answer.emotion.score)}（0.3 起算不满，0.6 起算愤怒）`));
      const points = (answer.knowledge_points || []).map((k) => `${k.label} ${percent(k.confidence)}`).join(" · ");
      // No point, and the first reply says the message is outside the shop's service (homework, a misfire …).
      const outside = (answer.replies || []).slice(0, 1).some((r) => (r.knowledge_point || "").startsWith("outside."));
      rows.push(...whyRow("问的是", points || (outside ? "店铺客服范围之外的事" : "没有把握的知识点")));
      const slots = Object.entries(answer.slots || {}).map(([name, value]) => `${label("variables", name)} ${value}`).join(" · ");
      if (slots) rows.push(...whyRow("识别到", slots));
      if (answer.size_advice && answer.size_advice.missing && answer.size_advice.missing.length) {
        const missing = answer.size_advice.missing.map((key) => (MEASUREMENTS[key] || [key])[0]).join("、");
        rows.push(...whyRow("尺码还缺", missing));
      }
    }
    $("reading-why-body").replaceChildren(...rows);
    $("reading-why").hidden = !answer;
  }

  // ---- suggestions -------------------------------------------------------------------------------------------

  // The suggestions offered, numbered: those dismissed in this conversation left out, those already sent after the rest
  // (the service offers one again only when the customer repeats the question; a different wording comes first).
  function visibleReplies(conv) {
    const shown = conv.current ? conv.current.replies.filter((r) => !conv.dismissed.includes(r.id)) : [];
    return [...shown.filter((r) => !conv.sent.includes(r.id)), ...shown.filter((r) => conv.sent.includes(r.id))];
  }

  // The service's account of a choice, with any id it names said in Chinese.
  function whyText(why) {
    const ids = { ...CONTRACT.intents, ...CONTRACT.psychology, ...CONTRACT.categories, ...CONTRACT.emotions };
    return String(why || "").replace(/(^|[^\w.-])([a-z][a-z_]*)(?![\w.-])/g, (whole, before, word) => before + (ids[word] || word));
  }

  function suggestionItem(reply, i, conv) {
    const sent = conv.sent.includes(reply.id);
    const missing = (reply.missing || []).filter((name) => !(conv.variables[name] || "").trim());
    const meta = el("div", { className: "meta" }, el("span", { className: "category" }, label("categories", reply.category)));
    if (reply.source && reply.source !== "corpus") meta.append(el("span", { className: "source" }, SOURCES[reply.source] || ""));
    if (missing.length) meta.append(el("span", { className: "needs-edit" }, `待填：${missing.map((n) => label("variables", n)).join("、")}`));
    if (reply.needs_check) meta.append(el("span", { className: "needs-check" }, `发前确认：${reply.needs_check}`));
    if (sent) meta.append(el("span", { className: "sent-mark" }, "本会话已发过"));

    const why = el(
      "details",
      { className: "why-box" },
      el("summary", {}, "为什么"),
      el("span", { className: "why" }, whyText(reply.why)),
      el("span", { className: "score" }, `匹配分 ${fixed(reply.score)} · 来源 ${SOURCES[reply.source] || SOURCES.corpus}`),
    );
    why.addEventListener("click", (event) => event.stopPropagation());
    meta.append(why);
    const dismiss = el("button", { type: "button", className: "dismiss", title: "这条不合适：收起来，并告诉系统" }, "不合适");
    dismiss.addEventListener("click", (event) => {
      event.stopPropagation();
      dismissReply(reply);
    });
    const item = el(
      "li",
      {
        className: [reply.needs_edit ? "needs-edit" : "", sent ? "sent" : ""].filter(Boolean).join(" "),
        title: "点击或按数字键放入草稿",
        dataset: { index: String(i + 1), id: reply.id, category: reply.category, needsEdit: String(reply.needs_edit), sent: String(sent) },
      },
      el("span", { className: "num" }, String(i + 1)),
      el("div", { className: "body" }, el("p", { className: "text" }, shownText(reply, conv)), meta),
      el("div", { className: "actions" }, dismiss),
    );
    item.addEventListener("click", () => pick(i));
    return item;
  }

  function renderSuggestions() {
    const conv = state.conv;
    const answer = conv.current;
    const list = $("suggestions");
    const visible = visibleReplies(conv);
    list.replaceChildren(...visible.map((reply, i) => suggestionItem(reply, i, conv)));
    if (answer) list.dataset.requestId = answer.request_id;
    else delete list.dataset.requestId;
    $("no-suggestions").hidden = visible.length > 0;
    $("no-suggestions").textContent = answer ? "这条消息的建议都收起来了：可以从话术库找，或直接写。" : "粘贴客户消息并按 Enter，这里会给出建议回复。";

    const dismissed = answer ? answer.replies.filter((r) => conv.dismissed.includes(r.id)) : [];
    $("dismissed-box").hidden = !dismissed.length;
    $("dismissed-count").textContent = String(dismissed.length);
    $("dismissed-list").replaceChildren(
      ...dismissed.map((reply) => {
        const back = el("button", { type: "button", className: "restore" }, "放回");
        back.addEventListener("click", () => {
          conv.dismissed = conv.dismissed.filter((id) => id !== reply.id);
          save(conv);
          renderSuggestions();
        });
        return el("li", { dataset: { id: reply.id } }, el("span", { className: "text" }, shownText(reply, conv)), back);
      }),
    );
    markPicked();
  }

  function markPicked() {
    const conv = state.conv;
    for (const item of $("suggestions").children) {
      const picked = conv.picked && conv.current && conv.picked.request_id === conv.current.request_id && conv.picked.reply_id === item.dataset.id;
      item.classList.toggle("picked", Boolean(picked));
      if (picked) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    }
  }

  // The "clicked" reports in flight, by "<request_id> <reply_id>" (not kept with the conversation in localStorage).
  const clicks = new Map();

  // Puts suggestion `index` (0-based, of those shown) into the draft; its first 【…】 is selected.
  function pick(index) {
    const conv = state.conv;
    const answer = conv.current;
    const reply = visibleReplies(conv)[index];
    if (!reply) return;
    const again = conv.picked && conv.picked.request_id === answer.request_id && conv.picked.reply_id === reply.id;
    conv.picked = { request_id: answer.request_id, reply_id: reply.id, index: index + 1, text: reply.text };
    conv.library = [];
    // The pick is the first step of the adoption funnel (clicked → sent/edited); a failure is shown, not dropped.
    // Sending waits for it, so the log has the click before the send (a quick send under load arrived first).
    if (!again) {
      clicks.set(`${answer.request_id} ${reply.id}`, post("/v1/feedback", { request_id: answer.request_id, reply_id: reply.id, action: "clicked" })
        .catch((err) => setStatus(`选用没有记录：${err.message}`, "error", err.raw)));
    }
    const draft = $("draft");
    draft.value = shownText(reply, conv);
    draftChanged({ lintNow: true });
    markPicked();
    draft.focus();
    const gap = holes(draft.value)[0];
    const at = gap ? draft.value.indexOf(gap.token) : -1;
    if (at >= 0) draft.setSelectionRange(at, at + gap.token.length);
    else draft.setSelectionRange(draft.value.length, draft.value.length);
    if (conv.sent.includes(reply.id)) setStatus("这条本会话已经发过：确认要再发一次吗？", "lint");
  }

  // 不合适: recorded as `dismissed` for this suggestion, and not offered among the numbered ones in this conversation.
  function dismissReply(reply) {
    const conv = state.conv;
    const answer = conv.current;
    if (!answer) return;
    if (!conv.dismissed.includes(reply.id)) conv.dismissed.push(reply.id);
    if (conv.dismissed.length > 300) conv.dismissed.splice(0, conv.dismissed.length - 300);
    save(conv);
    renderSuggestions();
    post("/v1/feedback", { request_id: answer.request_id, reply_id: reply.id, action: "dismissed" }).then(
      () => setStatus("已标记不合适，已收起这条（可在列表下方放回）", "info"),
      (err) => setStatus(`“不合适”没有记录：${err.message}`, "error", err.raw),
    );
  }

  const isTextEntry = (node) => node instanceof Element && Boolean(node.closest("input, textarea, select, [contenteditable]"));

  // 1–5 pick a suggestion anywhere but in a text field, where digits are text; Alt+1–5 picks everywhere. Alt+N: a new buyer.
  function onKey(event) {
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyN") {
      event.preventDefault();
      newBuyer();
      return;
    }
    const match = /^(?:Digit|Numpad)([1-9])$/.exec(event.code);
    if (!match || event.ctrlKey || event.metaKey || event.shiftKey || event.isComposing) return;
    const n = Number(match[1]);
    if (!event.altKey && isTextEntry(event.target)) return;
    if (n > visibleReplies(state.conv).length) return;
    event.preventDefault();
    pick(n - 1);
  }

  // ---- the draft and its check -------------------------------------------------------------------------------

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
          setStatus(`草稿检查失败：${err.message}`, "lint", err.raw);
        }
        throw err;
      },
    );
  }

  function resetLint() {
    state.lint.seq += 1; // an answer still on its way is for another draft
    clearTimeout(state.lint.timer);
    state.lint.timer = null;
    state.lint.text = "";
    state.lint.findings = [];
    state.lint.failed = null;
  }

  function draftChanged({ lintNow = false } = {}) {
    const conv = state.conv;
    const text = $("draft").value;
    state.confirm = null;
    conv.draft = text;
    if (!text) {
      conv.picked = null; // an emptied draft starts again
      conv.library = [];
      markPicked();
    }
    save(conv);
    renderFill();
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
    const conv = state.conv;
    const text = $("draft").value;
    const button = $("send");
    const note = $("send-note");
    const open = holes(text);
    button.disabled = state.sending || !text.trim();
    button.classList.toggle("confirm", Boolean(state.confirm));
    button.textContent = state.confirm ? "仍要发送" : "复制并发送";
    const picked = conv && conv.picked;
    if (open.length) {
      note.textContent = `还有 ${open.length} 处要填：${open.map((h) => h.token).join("")}，填好才能发送`;
      note.className = "warn";
    } else if (state.confirm) {
      const { errors, failed, odd, repeat } = state.confirm;
      const parts = [];
      if (repeat) parts.push("这条本会话已发过");
      if (failed) parts.push("草稿没能检查");
      if (errors) parts.push(`草稿有 ${errors} 处错误：改好再发`);
      if (odd.length) parts.push(`${odd.join("")} 不是要填的内容吧`);
      note.textContent = `${parts.join("；")}。确认无误再按一次发送`;
      note.className = "warn";
    } else if (picked && text) {
      const repeat = conv.sent.includes(picked.reply_id) ? " · 本会话已发过" : "";
      note.textContent = (text === picked.text ? `原样发送第 ${picked.index} 条` : `修改后发送（第 ${picked.index} 条）`) + repeat;
      note.className = "muted";
    } else {
      note.textContent = text ? (conv && conv.library.length ? "话术库拼的回复" : "自写回复") : "";
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

  // The clipboard, or (where it is refused) the copy command on a hidden text area.
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      const focused = document.activeElement;
      const area = el("textarea", { className: "offscreen", value: text, readOnly: true });
      document.body.append(area);
      area.select();
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (__) {
        ok = false;
      }
      area.remove();
      if (focused && focused.focus) focused.focus({ preventScroll: true });
      return ok;
    }
  }

  function addSent(conv, ids) {
    for (const id of ids) {
      if (!id) continue;
      conv.sent = conv.sent.filter((x) => x !== id);
      conv.sent.push(id);
    }
    if (conv.sent.length > CONTRACT.limits.max_sent) conv.sent.splice(0, conv.sent.length - CONTRACT.limits.max_sent);
  }

  // Send: never with a 【…】 still to fill; with errors, an unchecked draft or an unknown 【…】 only on a second
  // press. Then copied out for the chat client, written to the transcript and reported for the reply it came from.
  async function send() {
    const conv = state.conv;
    const draft = $("draft");
    const text = draft.value;
    if (!text.trim() || state.sending) return;
    const open = holes(text);
    if (open.length) {
      state.confirm = null;
      renderFill(true);
      renderSendState();
      setStatus(`还没发：草稿里的 ${open.map((h) => h.token).join("")} 要先填好`, "error");
      const input = document.querySelector("#fill-fields input");
      if (input) input.focus();
      return;
    }
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
      if (draft.value !== text || state.conv !== conv) return; // changed while being checked: the agent sees it first
      const odd = oddMarks(text);
      const repeat = Boolean(conv.picked && conv.sent.includes(conv.picked.reply_id));
      if ((errors || !checked || odd.length || repeat) && !state.confirm) {
        state.confirm = { errors, failed: !checked, odd, repeat };
        return;
      }
      const copied = await copyText(text);
      // A picked suggestion is reported: sent as it was, or edited with the text that went out.
      const notes = [];
      let failed = null;
      const picked = conv.picked;
      if (picked) {
        const body = text === picked.text
          ? { request_id: picked.request_id, reply_id: picked.reply_id, action: "sent" }
          : { request_id: picked.request_id, reply_id: picked.reply_id, action: "edited", final_text: text };
        try {
          await clicks.get(`${picked.request_id} ${picked.reply_id}`);
          await post("/v1/feedback", body);
          notes.push(body.action === "sent" ? `第 ${picked.index} 条原样发送，已记录` : `第 ${picked.index} 条修改后发送，已记录`);
        } catch (err) {
          failed = err;
        }
      }
      const meta = [
        picked ? `第 ${picked.index} 条${text === picked.text ? "" : " · 已修改"}` : conv.library.length ? "话术库" : "自写",
        copied ? "已复制" : "未能复制",
      ].join(" · ");
      pushTurn(conv, { role: "agent", text, meta, at: Date.now() });
      addSent(conv, [picked && picked.reply_id, ...conv.library]);
      conv.picked = null;
      conv.library = [];
      conv.draft = "";
      state.confirm = null;
      draft.value = "";
      resetLint();
      save(conv);
      renderTranscript();
      renderSuggestions();
      renderFill();
      if (failed) setStatus(`已发送，但反馈没有记录：${failed.message}`, "error", failed.raw);
      else if (!copied) setStatus(`没能自动复制：请在会话记录里点这条的“复制”${notes.length ? `（${notes.join("")}）` : ""}`, "error");
      else setStatus(`已复制，到千牛粘贴（Ctrl+V）发出${notes.length ? ` · ${notes.join("")}` : ""}`, "info");
      $("message").focus();
    } finally {
      state.sending = false;
      renderFindings();
    }
  }

  // ---- the phrase library: GET /v1/replies, searched by shortcut code or by content --------------------------

  // Shortcut codes: the initials of the reply's knowledge point (logistics.slow-delivery → lsd) and the reply's
  // place in that point (lsd1, lsd2 …); a point whose initials are taken gets longer letters (ls → lsde …).
  // A reply of no point is coded from its id. The agent may set a code of their own (kept in localStorage).
  function deriveCodes(replies) {
    const groups = new Map();
    for (const reply of replies) {
      const key = reply.knowledge_point || `#${reply.id}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(reply);
    }
    const taken = new Set();
    const codes = {};
    for (const key of [...groups.keys()].sort()) {
      const words = (key.startsWith("#") ? key.slice(1) : key).toLowerCase().split(/[^a-z]+/).filter(Boolean);
      if (!words.length) words.push("x");
      const candidates = [
        words.map((w) => w[0]).join(""),
        words.map((w, i) => (i === words.length - 1 ? w.slice(0, 2) : w[0])).join(""),
        words.map((w) => w.slice(0, 2)).join(""),
        words.map((w) => w.slice(0, 3)).join(""),
        words.join(""),
      ];
      let base = candidates.find((c) => !taken.has(c));
      for (let k = 2; !base; k += 1) if (!taken.has(`${candidates[0]}x${k}`)) base = `${candidates[0]}x${k}`;
      taken.add(base);
      groups.get(key).forEach((reply, i) => (codes[reply.id] = `${base}${i + 1}`));
    }
    return codes;
  }

  const codeOf = (reply) => state.codes[reply.id] || library.derived[reply.id] || "";

  function loadLibrary() {
    if (library.replies) return Promise.resolve();
    if (library.loading) return library.loading;
    library.failed = null;
    library.loading = (async () => {
      const all = [];
      for (let offset = 0, total = 1; offset < total;) {
        const page = await api(`/v1/replies?limit=${LIBRARY_PAGE}&offset=${offset}`);
        total = page.total;
        all.push(...page.replies);
        if (!page.replies.length) break;
        offset += page.replies.length;
      }
      library.derived = deriveCodes(all);
      library.replies = all;
      try {
        library.facts = (await api("/v1/shop")).facts || {};
      } catch (_) {
        library.facts = {}; // no shop facts: their 【…】 stay for the agent to fill
      }
    })()
      .catch((err) => {
        library.failed = err;
      })
      .finally(() => {
        library.loading = null;
      });
    return library.loading;
  }

  function snippetValues() {
    return { ...library.facts, ...state.conv.variables };
  }

  // Replies about what the customer just asked come first: its knowledge points, then its intent.
  function closeness(reply) {
    const answer = state.conv.current;
    if (!answer) return 0;
    const points = new Set([...(answer.knowledge_points || []).map((k) => k.id), ...answer.replies.map((r) => r.knowledge_point)]);
    if (reply.knowledge_point && points.has(reply.knowledge_point)) return 0;
    return (reply.intents || []).includes(answer.intent.id) ? 1 : 2;
  }

  function searchLibrary(query) {
    const q = query.trim().toLowerCase();
    const replies = library.replies || [];
    const terms = q ? q.split(/\s+/) : [];
    const ranked = [];
    replies.forEach((reply, order) => {
      const codes = [state.codes[reply.id], library.derived[reply.id]].filter(Boolean); // the agent's own first
      let rank = -1;
      if (!terms.length) rank = 3 + closeness(reply);
      else if (terms.length === 1 && codes.includes(q)) rank = codes.indexOf(q);
      else if (terms.length === 1 && codes.some((c) => c.startsWith(q))) rank = 2;
      else {
        const intents = (reply.intents || []).map((i) => label("intents", i)).join(" ");
        const hay = `${reply.text} ${reply.knowledge_point || ""} ${label("categories", reply.category)} ${intents}`.toLowerCase();
        if (terms.every((t) => hay.includes(t))) rank = 3 + closeness(reply);
      }
      if (rank >= 0) ranked.push({ reply, rank, order });
    });
    ranked.sort((a, b) => a.rank - b.rank || a.order - b.order);
    return ranked.map((r) => r.reply);
  }

  function renderLibrary() {
    const list = $("library-list");
    const count = $("library-count");
    if (!library.replies) {
      list.replaceChildren(el("li", { className: "library-note" }, library.failed ? `话术库没能加载：${library.failed.message}` : "话术库加载中…"));
      count.textContent = "";
      return;
    }
    library.results = searchLibrary($("library-search").value);
    library.sel = Math.min(library.sel, Math.max(0, library.results.length - 1));
    const shown = library.results.slice(0, LIBRARY_SHOWN);
    count.textContent = library.results.length > LIBRARY_SHOWN ? `前 ${LIBRARY_SHOWN} 条，共 ${library.results.length} 条` : `${library.results.length} 条`;
    if (!shown.length) {
      list.replaceChildren(el("li", { className: "library-note" }, "没有找到：换个词，或输入编码"));
      return;
    }
    const values = snippetValues();
    list.replaceChildren(
      ...shown.map((reply, i) => {
        const code = el("button", { type: "button", className: `code${state.codes[reply.id] ? " own" : ""}`, title: "点一下改成自己的编码" }, codeOf(reply));
        code.addEventListener("click", (event) => {
          event.stopPropagation();
          editCode(reply, code);
        });
        const row = el(
          "li",
          { id: `library-${i}`, className: i === library.sel ? "selected" : "", dataset: { id: reply.id, code: codeOf(reply) } },
          code,
          el("span", { className: "category" }, label("categories", reply.category)),
          el("span", { className: "text" }, fillTemplate(reply.text, values)),
        );
        row.setAttribute("role", "option");
        row.setAttribute("aria-selected", String(i === library.sel));
        row.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus in the search box
        row.addEventListener("click", () => insertSnippet(reply, false));
        return row;
      }),
    );
    $("library-search").setAttribute("aria-activedescendant", `library-${library.sel}`);
  }

  function moveSelection(step) {
    const n = Math.min(library.results.length, LIBRARY_SHOWN);
    if (!n) return;
    library.sel = (library.sel + step + n) % n;
    for (const row of $("library-list").children) {
      const on = row.id === `library-${library.sel}`;
      row.classList.toggle("selected", on);
      row.setAttribute("aria-selected", String(on));
      if (on) row.scrollIntoView({ block: "nearest" });
    }
    $("library-search").setAttribute("aria-activedescendant", `library-${library.sel}`);
  }

  function editCode(reply, button) {
    const input = el("input", { type: "text", className: "code-input", value: codeOf(reply), maxLength: 12 });
    input.setAttribute("aria-label", "新的编码（字母和数字，留空恢复默认）");
    button.replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      if (keep) {
        const code = input.value.trim().toLowerCase();
        if (code && !/^[a-z0-9]{1,12}$/.test(code)) {
          setStatus("编码只能用字母和数字，最多 12 个", "error");
        } else {
          for (const [id, own] of Object.entries(state.codes)) if (own === code && id !== reply.id) delete state.codes[id];
          if (code && code !== library.derived[reply.id]) state.codes[reply.id] = code;
          else delete state.codes[reply.id];
          writeJSON(localStorage, CODES_KEY, state.codes);
          setStatus(code ? `这条话术的编码改成了 ${code}` : "已恢复默认编码", "info");
        }
      }
      renderLibrary();
      $("library-search").focus();
    };
    input.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("click", (event) => event.stopPropagation());
    input.addEventListener("blur", () => finish(true));
  }

  async function openLibrary() {
    const panel = $("library");
    panel.hidden = false;
    $("open-library").setAttribute("aria-expanded", "true");
    const search = $("library-search");
    search.value = "";
    library.sel = 0;
    search.focus();
    renderLibrary();
    await loadLibrary();
    if (!panel.hidden) renderLibrary();
  }

  function closeLibrary(focusDraft = true) {
    if ($("library").hidden) return;
    $("library").hidden = true;
    $("open-library").setAttribute("aria-expanded", "false");
    if (focusDraft) $("draft").focus();
  }

  // Inserting appends: several snippets make one reply. Their {variables} take the buyer's values and the shop's facts.
  function insertSnippet(reply, keepOpen) {
    if (!reply) return;
    const conv = state.conv;
    const draft = $("draft");
    const before = draft.value;
    const sep = !before || /[\s。！？!?~～，,；;…、]$/.test(before) ? "" : " ";
    const text = fillTemplate(reply.text, snippetValues());
    draft.value = before + sep + text;
    conv.library = [...conv.library.filter((id) => id !== reply.id), reply.id];
    draftChanged({ lintNow: true });
    setStatus(`已插入话术 ${codeOf(reply)}`, "info");
    if (keepOpen) {
      $("library-search").value = "";
      library.sel = 0;
      renderLibrary();
      $("library-search").focus();
      return;
    }
    closeLibrary(true);
    const gap = holes(draft.value).find((h) => draft.value.indexOf(h.token, before.length) >= 0);
    const at = gap ? draft.value.indexOf(gap.token, before.length) : -1;
    if (at >= 0) draft.setSelectionRange(at, at + gap.token.length);
    else draft.setSelectionRange(draft.value.length, draft.value.length);
  }

  function onLibraryKey(event) {
    if (event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveSelection(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      insertSnippet(library.results[library.sel], event.shiftKey);
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeLibrary(true);
    }
  }

  // ---- the page ---------------------------------------------------------------------------------------------

  function renderAll() {
    const conv = state.conv;
    renderTabs();
    renderTranscript();
    renderVariables();
    renderEscalation();
    renderAnalysis();
    renderSuggestions();
    $("message").value = conv.message || "";
    $("draft").value = conv.draft || "";
    state.confirm = null;
    resetLint();
    renderFill(true);
    if (conv.draft) lintAgain().catch(() => {});
    else renderFindings();
  }

  // Another browser tab of the console changed the conversations: take its changes.
  function onStorage(event) {
    if (!event.key || !event.key.startsWith(STORE)) return;
    if (event.key === CODES_KEY) {
      state.codes = readJSON(localStorage, CODES_KEY, {});
      return;
    }
    if (event.key === ACTIVE_KEY) return;
    const shown = state.conv && state.conv.id;
    loadAll();
    if (!state.tabs.order.length) makeConversation();
    const id = state.tabs.order.includes(shown) ? shown : state.tabs.order[0];
    const changed = event.key === convKey(id) || !state.convs.has(shown);
    state.conv = state.convs.get(id);
    if (changed && !state.asking.has(id)) renderAll();
    else renderTabs();
  }

  async function loadProducts() {
    try {
      const answer = await api("/v1/products?limit=500");
      $("products").replaceChildren(...answer.products.map((p) => el("option", { value: p.id }, p.title)));
    } catch (_) {
      // no key yet, or no catalogue: the field stays free text
    }
  }

  function init() {
    state.codes = readJSON(localStorage, CODES_KEY, {});
    if (window.matchMedia("(max-width: 759px)").matches) $("buyer-info").open = false; // the conversation first
    loadAll();
    if (!state.tabs.order.length) makeConversation();
    const wanted = sessionStorage.getItem(ACTIVE_KEY) || localStorage.getItem(ACTIVE_KEY);
    activate(state.tabs.order.includes(wanted) ? wanted : state.tabs.order[0]);

    $("variables").addEventListener("submit", (event) => event.preventDefault());
    $("variables").addEventListener("input", onVariableInput);
    $("variables").addEventListener("change", onVariableChange);
    $("new-conversation").addEventListener("click", newConversation);
    $("new-buyer").addEventListener("click", newBuyer);
    $("undo").addEventListener("click", undo);
    $("clear-escalation").addEventListener("click", clearEscalation);

    const message = $("message");
    message.addEventListener("input", () => {
      state.conv.message = message.value;
      save(state.conv);
    });
    message.addEventListener("keydown", (event) => {
      // While an input method is composing, Enter picks its candidate: it must not send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        ask();
      } else if (event.key === "Escape") $("suggestions").focus();
    });

    const draft = $("draft");
    draft.addEventListener("input", (event) => {
      // `/` (or the 、 a Chinese input method makes of it) in an empty draft opens the library.
      if (["/", "、", "／"].includes(draft.value) && !event.isComposing) {
        draft.value = "";
        draftChanged();
        openLibrary();
        return;
      }
      draftChanged();
    });
    draft.addEventListener("scroll", () => ($("draft-highlights").scrollTop = draft.scrollTop));
    draft.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        send();
      } else if (event.key === "/" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        openLibrary();
      } else if (event.key === "Escape") $("suggestions").focus();
    });
    $("send").addEventListener("click", send);
    $("open-library").addEventListener("click", () => ($("library").hidden ? openLibrary() : closeLibrary(true)));
    $("library-close").addEventListener("click", () => closeLibrary(true));
    $("library-search").addEventListener("input", () => {
      library.sel = 0;
      renderLibrary();
    });
    $("library-search").addEventListener("keydown", onLibraryKey);
    document.addEventListener("keydown", onKey);
    window.addEventListener("storage", onStorage);
    loadProducts();
    if (document.activeElement === document.body || !document.activeElement) message.focus();
    document.body.dataset.ready = "true"; // for the browser tests: the page answers from now on
  }

  // The key works before the contract has loaded: an agent may type it at once.
  if (!$("api-key").value) $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    setStatus(key ? "已使用这个密钥" : "不带密钥访问", "info");
    library.replies = null; // read again with the new key
    if (CONTRACT) {
      loadProducts();
      $("message").focus();
    }
  });

  loadContract()
    .then((contract) => {
      CONTRACT = contract;
      LABEL_TO_NAME = Object.fromEntries(Object.entries(CONTRACT.variables).map(([name, text]) => [text, name]));
      init();
    })
    .catch((err) => setStatus(`页面没能启动：${err.message}，请刷新重试`, "error"));
})();
