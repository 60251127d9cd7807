// Shared by the pages: building DOM nodes so that text from the server is only ever a text node.
"use strict";

// el("li", {className: "x", dataset: {id}}, "text", otherNode): strings become text nodes, never markup.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else node[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The contract both pages share with the server (labels, categories, variables, limits): served as JSON,
// never copied into the scripts.
async function loadContract() {
  const response = await fetch("/ui/contract.json", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status}: the page could not load /ui/contract.json`);
  return response.json();
}

class ApiError extends Error {
  constructor(status, body, hint) {
    const reason = body && body.message ? body.message : `HTTP ${status}`;
    super(`${status} ${(body && body.error) || "error"}: ${reason}${status === 401 || status === 403 ? hint || "" : ""}`);
    this.status = status;
  }
}

// One call to the API with the key kept in sessionStorage under `keyStore`; a JSON body when `payload` is given.
// Resolves to the answer's JSON; rejects with an ApiError carrying the server's message.
async function callApi(path, { method = "GET", payload, keyStore, keyHint } = {}) {
  const headers = { Accept: "application/json" };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  const key = keyStore ? sessionStorage.getItem(keyStore) : null;
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body, keyHint);
  return body;
}
