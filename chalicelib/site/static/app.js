// Task manager for the Task API. No framework and no build step: the page is served by
// the API itself. Everything shown is set as text (never as HTML); the CSP enforces it
// with Trusted Types. Tokens live in this module's memory only, never in Web Storage.

const config = JSON.parse(document.getElementById("page-config").textContent);
const $ = (id) => document.getElementById(id);

// --- small DOM helpers ---------------------------------------------------------------------

/** An element with properties, attributes (keys starting with "aria-"/"data-") and children. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("aria-") || key.startsWith("data-") || key === "role" || key === "for") {
      node.setAttribute(key, value === true ? "" : String(value));
    } else {
      node[key] = value;
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const humanize = (value) => capitalize(String(value).replaceAll("_", " "));

/** A text on one line, cut to ``length`` characters: to name a comment in a button. */
function excerpt(text, length = 40) {
  const line = String(text).replace(/\s+/g, " ").trim();
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}

function announce(message) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh text node so that screen readers announce a repeated message too.
  window.setTimeout(() => { announcer.textContent = message; }, 50);
}

function showBanner(message, ...actions) {
  const banner = $("banner");
  banner.replaceChildren(h("p", {}, message), ...actions);
  banner.className = "banner banner-error";
  banner.hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
  $("banner").replaceChildren();
}

// --- the session: tokens in memory only ------------------------------------------------------

const session = { idToken: null, refreshToken: null, expiresAt: 0, name: "", sub: null };
const signIn = config.signIn; // null: this stage serves requests without a token

function claims(token) {
  try {
    const payload = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function startSession(idToken, refreshToken = null) {
  const payload = claims(idToken) || {};
  session.idToken = idToken;
  session.refreshToken = refreshToken ?? session.refreshToken;
  session.expiresAt = typeof payload.exp === "number" ? payload.exp * 1000 : Infinity;
  session.name = payload.email || payload["cognito:username"] || "Signed in";
  session.sub = payload.sub || null;
}

function endSession() {
  Object.assign(session, { idToken: null, refreshToken: null, expiresAt: 0, name: "", sub: null });
}

class CognitoError extends Error {
  constructor(type, message) {
    super(message || type);
    this.type = type;
  }
}

/** One call to Cognito's user pool API: public client, no AWS credentials. */
async function cognito(action, body) {
  const response = await fetch(signIn.endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
    },
    body: JSON.stringify({ ClientId: signIn.clientId, ...body }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || data.code || "Error").split("#").pop();
    throw new CognitoError(type, data.message || data.Message);
  }
  return data;
}

/** The ID token for the next request, refreshed when it is about to expire. */
async function currentToken() {
  if (!signIn) return null;
  if (session.idToken && Date.now() < session.expiresAt - 60_000) return session.idToken;
  if (session.refreshToken && (await refreshSession())) return session.idToken;
  return session.idToken;
}

async function refreshSession() {
  if (!session.refreshToken || !signIn.clientId) return false;
  try {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      AuthParameters: { REFRESH_TOKEN: session.refreshToken },
    });
    startSession(data.AuthenticationResult.IdToken);
    return true;
  } catch {
    return false;
  }
}

// --- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem, requestId) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.requestId = requestId;
  }
}

class SignInRequired extends Error {}

/** One request to the API; the response body (parsed) and ETag, or an ApiError. */
async function api(method, path, { body, headers = {}, contentType = "application/json" } = {}) {
  const send = async () => {
    const all = { Accept: "application/json, application/problem+json", ...headers };
    const token = await currentToken();
    if (token) all.Authorization = token;
    if (body !== undefined) all["Content-Type"] = contentType;
    return fetch(config.apiBase + path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && signIn && (await refreshSession())) response = await send();
  } catch {
    throw new ApiError(0, { detail: "The API could not be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && signIn) {
    endSession();
    showSignIn("Your session has ended. Sign in again.");
    throw new SignInRequired();
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("X-Request-Id"));
  return { data, etag: response.headers.get("ETag") };
}

function describeError(error) {
  if (error.status >= 500 || error.status === 0) {
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.message}${id}`;
  }
  return error.message;
}

// --- task fields: one builder for the create and the edit form -----------------------------

const FIELD_NAMES = ["title", "description", "priority", "dueDate", "tags", "status"];
/** What the forms and the history call each field; any other reads as its name in words. */
const FIELD_LABELS = { title: "Title", description: "Description", priority: "Priority", dueDate: "Due date", tags: "Tags", status: "Status", expireAt: "Expires" };
const fieldLabel = (name) => FIELD_LABELS[name] || humanize(name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

function options(values, selected) {
  return values.map((value) => h("option", { value, defaultSelected: value === selected, selected: value === selected }, humanize(value)));
}

function field(form, name, label, control, hint) {
  const id = `${form.id}-${name}`;
  control.id = id;
  control.name = name;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h(
    "div",
    { className: `field field-${name}` },
    h("label", { htmlFor: id }, label),
    hint ? h("p", { id: hintId, className: "hint" }, hint) : null,
    control,
    h("p", { id: errorId, className: "field-error", hidden: true }),
  );
}

function buildTaskFields(form, { withStatus }) {
  const { limits } = config;
  const fields = [
    field(form, "title", fieldLabel("title"), h("input", { type: "text", autocomplete: "off", required: true, "aria-required": "true" })),
    field(form, "description", fieldLabel("description"), h("textarea", { rows: 3 })),
    h(
      "div",
      { className: "field-row" },
      field(form, "priority", fieldLabel("priority"), h("select", {}, options(config.priorities, config.defaults.priority))),
      field(form, "dueDate", fieldLabel("dueDate"), h("input", { type: "date" })),
    ),
    field(
      form,
      "tags",
      fieldLabel("tags"),
      h("input", { type: "text", autocomplete: "off" }),
      `Separate with commas; up to ${limits.tags} tags of ${limits.tag} characters.`,
    ),
  ];
  if (withStatus) {
    fields.push(field(form, "status", fieldLabel("status"), h("select", {}, options(config.statuses, config.defaults.status))));
  }
  form.querySelector(".form-actions").before(...fields);
}

function parseTags(text) {
  return text.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** The form's values as task fields (what the API accepts). */
function formValues(form) {
  const value = (name) => form.elements[name]?.value;
  const values = {
    title: value("title"),
    description: value("description"),
    priority: value("priority"),
    dueDate: value("dueDate") || null,
    tags: parseTags(value("tags")),
  };
  if (form.elements.status) values.status = value("status");
  return values;
}

/** A due date as the date input shows it: the calendar day of a date or a date-time. */
const dueDay = (due) => (due ? String(due).slice(0, 10) : "");

function fillForm(form, task) {
  form.elements.title.value = task.title;
  form.elements.description.value = task.description;
  form.elements.priority.value = task.priority;
  form.elements.dueDate.value = dueDay(task.dueDate);
  form.elements.tags.value = task.tags.join(", ");
  if (form.elements.status) form.elements.status.value = task.status;
}

function clearErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const general = form.querySelector(".form-error");
  if (general) {
    general.hidden = true;
    general.textContent = "";
  }
}

/** A problem document's errors, each next to its field; the rest above the form. */
function showErrors(form, error) {
  clearErrors(form);
  const unplaced = [];
  let first = null;
  for (const item of error.problem.errors || []) {
    const name = item.pointer ? item.pointer.split("/")[1] : item.parameter;
    const control = name ? form.elements[name] : null;
    if (!control || !control.id) {
      unplaced.push(`${name || item.header || "request"}: ${item.detail}`);
      continue;
    }
    const message = $(`${control.id}-error`);
    const where = item.pointer && item.pointer.split("/").length > 2 ? `Item ${Number(item.pointer.split("/")[2]) + 1}: ` : "";
    message.textContent = message.textContent ? `${message.textContent} ${where}${item.detail}` : `${where}${item.detail}`;
    message.hidden = false;
    control.setAttribute("aria-invalid", "true");
    first ??= control;
  }
  const general = form.querySelector(".form-error");
  if (general && (unplaced.length || !first)) {
    general.textContent = unplaced.length ? `${error.message} ${unplaced.join("; ")}` : describeError(error);
    general.hidden = false;
  }
  if (first) {
    first.focus();
  } else if (general) {
    general.setAttribute("tabindex", "-1");
    general.focus();
  }
}

// --- the list --------------------------------------------------------------------------------

// tasks: what the page shows, by id. etags: the ETag of a version the page fetched (from
// GET, POST or PATCH; a list page carries none), kept with that version.
const list = {
  filters: { status: "", priority: "", tag: "" },
  tasks: new Map(),
  etags: new Map(),
  nextCursor: null,
  loading: false,
  loads: 0, // numbers each load, so that only the latest one is shown
  createdDuringLoad: [],
};

/** Requests one "load" may make while it fills a page from short filtered pages. */
const MAX_REQUESTS_PER_LOAD = 5;
const sameVersion = (a, b) => Boolean(a && b) && a.version === b.version && a.createdAt === b.createdAt;

function rememberEtag(task, etag) {
  if (etag) list.etags.set(task.id, { etag, version: task.version, createdAt: task.createdAt });
}

/** Someone else changed a task (or comment) between the page showing it and the user
 * acting on it; ``current`` is the version the API has now. */
class ChangedElsewhere extends Error {
  constructor(current) {
    super("changed elsewhere");
    this.current = current;
  }
}

/** The ETag of the version the page shows: known, or read with one GET. A GET that finds a
 * newer version shows it and refuses the action, as the API's 412 would. */
async function shownEtag(id) {
  const shown = list.tasks.get(id);
  const known = list.etags.get(id);
  if (known && sameVersion(known, shown)) return known.etag;
  const { data: task, etag } = await api("GET", `/tasks/${encodeURIComponent(id)}`);
  updateTask(task, etag);
  if (!sameVersion(task, shown)) throw new ChangedElsewhere(task);
  return etag;
}

const CLOSED = new Set(["completed", "cancelled"]);
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function localToday() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function isDateOnly(due) {
  return /^\d{4}-\d{2}-\d{2}$/.test(due);
}

/** Overdue: still open and due before today (a date) or before now (a date-time). */
function isOverdue(task) {
  if (!task.dueDate || CLOSED.has(task.status)) return false;
  return isDateOnly(task.dueDate) ? task.dueDate < localToday() : Date.parse(task.dueDate) < Date.now();
}

function formatDue(due) {
  if (isDateOnly(due)) return dateFormat.format(new Date(`${due}T00:00:00Z`));
  const parsed = new Date(due);
  return Number.isNaN(parsed.getTime()) ? due : dateTimeFormat.format(parsed);
}

function actionButton(label, action, title, className = "button button-small") {
  // The visible label is short; the hidden part names the task for screen readers.
  return h("button", { type: "button", className, "data-action": action }, label, h("span", { className: "visually-hidden" }, ` “${title}”`));
}

function renderTask(task) {
  const titleId = `task-${task.id}-title`;
  const overdue = isOverdue(task);
  const meta = h(
    "p",
    { className: "task-meta" },
    h("span", { className: `badge status-${task.status}` }, humanize(task.status)),
    h("span", { className: `badge priority-${task.priority}` }, `${humanize(task.priority)} priority`),
    task.dueDate ? h("span", { className: "due" }, `Due ${formatDue(task.dueDate)}`) : null,
    overdue ? h("span", { className: "badge overdue" }, "Overdue") : null,
  );
  const actions = h("div", { className: "task-actions" }, actionButton("Edit", "edit", task.title));
  if (CLOSED.has(task.status)) {
    actions.append(actionButton("Reopen", "reopen", task.title));
  } else {
    actions.append(actionButton("Complete", "complete", task.title), actionButton("Cancel task", "cancel", task.title));
  }
  actions.append(actionButton("Delete", "delete", task.title, "button button-small button-danger"));
  return h(
    "li",
    { className: `task${overdue ? " is-overdue" : ""} is-${task.status}`, "data-id": task.id },
    h(
      "article",
      { "aria-labelledby": titleId },
      h("h3", { id: titleId, className: "task-title" }, task.title),
      meta,
      task.description ? h("p", { className: "task-description" }, task.description) : null,
      task.tags.length ? h("ul", { className: "tags", "aria-label": "Tags" }, task.tags.map((tag) => h("li", {}, tag))) : null,
      actions,
      h("div", { className: "task-message", role: "alert" }),
    ),
  );
}

/** Keep keyboard focus on a task whose buttons were just re-rendered. */
function focusTask(id, ...actions) {
  const item = taskItem(id);
  if (!item) return false;
  const button = actions.map((a) => item.querySelector(`[data-action=${a}]`)).find(Boolean);
  button?.focus();
  return Boolean(button);
}

/** The browser returns focus to a dialog's opener as it closes, before the "close" event
 * runs; a quick keyboard user may already have moved on by then. So a close handler only
 * places focus that was lost (the opener was re-rendered), never takes it back. */
function focusWasLost(dialog) {
  const active = document.activeElement;
  return !active || active === document.body || dialog.contains(active);
}

function taskItem(id) {
  return [...$("task-list").children].find((item) => item.dataset.id === id) || null;
}

function matchesFilters(task) {
  const { status, priority, tag } = list.filters;
  return (!status || task.status === status) && (!priority || task.priority === priority) && (!tag || task.tags.includes(tag));
}

/** Show a task's new version in place; one that no longer matches the filters leaves. */
function updateTask(task, etag) {
  list.tasks.set(task.id, task);
  rememberEtag(task, etag);
  const item = taskItem(task.id);
  if (!item) return;
  if (matchesFilters(task)) item.replaceWith(renderTask(task));
  else removeTask(task.id);
}

function removeTask(id) {
  list.tasks.delete(id);
  taskItem(id)?.remove();
  updateListStatus();
}

function updateListStatus() {
  const shown = $("task-list").children.length;
  const filtered = list.filters.status || list.filters.priority || list.filters.tag;
  let text;
  if (list.loading) text = "Loading…";
  else if (!shown && list.nextCursor) text = "No matching tasks among those checked so far; load more to keep looking.";
  else if (!shown) text = filtered ? "No tasks match these filters." : "No tasks yet. Add one above.";
  else text = `Showing ${shown} task${shown === 1 ? "" : "s"}${list.nextCursor ? "; more to load" : ""}.`;
  $("list-status").textContent = text;
  $("load-more").hidden = !list.nextCursor || list.loading;
}

function listQuery(filters, cursor) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();
  return `/tasks${query ? `?${query}` : ""}`;
}

/** The first page for ``filters`` (replacing the list), or the next page ("load more").
 * Filters the API refuses leave the list and the address bar as they were. Only the
 * latest load counts: an older response that arrives late is dropped, and a task
 * created while the first page was on its way is kept. */
async function loadPage({ more = false, filters = list.filters } = {}) {
  const form = $("filter-form");
  const load = ++list.loads;
  if (!more) list.createdDuringLoad = [];
  list.loading = true;
  updateListStatus();
  try {
    // A filtered page may come back short, even empty, when the API's per-request read
    // budget ran out first: follow its cursor a few times to fill one page's worth.
    let items = [];
    let cursor = more ? list.nextCursor : null;
    let requests = 0;
    do {
      const { data } = await api("GET", listQuery(filters, cursor));
      if (load !== list.loads) return;
      items.push(...data.items);
      cursor = data.nextCursor;
      requests += 1;
    } while (cursor && items.length < config.limits.page && requests < MAX_REQUESTS_PER_LOAD);
    clearFilterErrors(form);
    if (!more) {
      $("task-list").replaceChildren();
      list.tasks.clear();
      list.filters = filters;
      writeFiltersToUrl();
      const listed = new Set(items.map((task) => task.id));
      const created = list.createdDuringLoad.filter((task) => !listed.has(task.id) && matchesFilters(task));
      items = [...created.reverse(), ...items];
    }
    list.nextCursor = cursor;
    const fresh = items.filter((task) => !list.tasks.has(task.id));
    for (const task of fresh) list.tasks.set(task.id, task);
    $("task-list").append(...fresh.map(renderTask));
    if (more && fresh.length) announce(`Loaded ${fresh.length} more task${fresh.length === 1 ? "" : "s"}.`);
  } catch (error) {
    if (error instanceof SignInRequired || load !== list.loads) return;
    if (error.status === 400) showFilterErrors(form, error);
    else showBanner(`Could not load tasks. ${describeError(error)}`, h("button", { type: "button", className: "button", onclick: () => { hideBanner(); loadPage(); } }, "Try again"));
  } finally {
    if (load === list.loads) {
      list.loading = false;
      updateListStatus();
    }
  }
}

function clearFilterErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

function showFilterErrors(form, error) {
  clearFilterErrors(form);
  const placed = (error.problem.errors || []).filter((item) => form.elements[item.parameter]);
  for (const item of placed) {
    const control = form.elements[item.parameter];
    const message = $(`${control.id}-error`);
    if (!message) continue;
    message.textContent = item.detail;
    message.hidden = false;
    control.setAttribute("aria-invalid", "true");
  }
  if (!placed.length) showBanner(describeError(error));
  else form.elements[placed[0].parameter].focus();
}

/** Filters live in the address bar too, so a reload or a shared link keeps them. */
function readFiltersFromUrl() {
  const params = new URLSearchParams(window.location.search);
  for (const name of Object.keys(list.filters)) list.filters[name] = params.get(name) || "";
  const form = $("filter-form");
  for (const name of Object.keys(list.filters)) form.elements[name].value = list.filters[name];
}

function writeFiltersToUrl() {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(list.filters)) if (value) params.set(name, value);
  const query = params.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}`);
}

// --- writes --------------------------------------------------------------------------------

/** A key per intended creation: a retry after a lost response cannot create a duplicate. */
let pendingCreation = null;

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function createTask(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = formValues(form);
  const signature = JSON.stringify(body);
  if (!pendingCreation || pendingCreation.signature !== signature) pendingCreation = { signature, key: newKey() };
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { data: task, etag } = await api("POST", "/tasks", { body, headers: { "Idempotency-Key": pendingCreation.key } });
    pendingCreation = null;
    clearErrors(form);
    form.reset();
    rememberEtag(task, etag);
    list.createdDuringLoad.push(task);
    if (matchesFilters(task) && !list.tasks.has(task.id)) {
      list.tasks.set(task.id, task);
      $("task-list").prepend(renderTask(task));
    }
    updateListStatus();
    announce(`Added “${task.title}”.`);
    form.elements.title.focus();
  } catch (error) {
    if (!(error instanceof SignInRequired)) showErrors(form, error);
  } finally {
    submit.disabled = false;
  }
}

/** PATCH with If-Match: a change made by someone else meanwhile is a 412, never lost. */
async function patchTask(id, changes, etag) {
  return api("PATCH", `/tasks/${encodeURIComponent(id)}`, {
    body: changes,
    contentType: "application/merge-patch+json",
    headers: { "If-Match": etag },
  });
}

async function reloadTask(id) {
  const { data: task, etag } = await api("GET", `/tasks/${encodeURIComponent(id)}`);
  updateTask(task, etag);
  return task;
}

function taskMessage(id, text, ...actions) {
  const box = taskItem(id)?.querySelector(".task-message");
  if (!box) return showBanner(text, ...actions);
  box.replaceChildren(h("p", {}, text), ...actions);
}

function conflictInList(id, error) {
  if (error instanceof ChangedElsewhere) {
    taskMessage(id, "Someone else changed this task since it was loaded; it now shows the current version. Nothing was changed.");
    return;
  }
  if (error.status === 404) {
    removeTask(id);
    showBanner("That task no longer exists; it was deleted elsewhere.");
    return;
  }
  if (error.status === 412) {
    const reload = h("button", { type: "button", className: "button button-small", onclick: () => reloadTask(id).then(() => announce("Task reloaded.")).catch(handleBackgroundError) }, "Reload task");
    taskMessage(id, "Someone else changed this task since it was loaded; nothing was changed.", reload);
    return;
  }
  handleBackgroundError(error, id);
}

function handleBackgroundError(error, id = null) {
  if (error instanceof SignInRequired) return;
  if (id) taskMessage(id, describeError(error));
  else showBanner(describeError(error));
}

async function setStatus(id, status) {
  try {
    const { data: task, etag } = await patchTask(id, { status }, await shownEtag(id));
    updateTask(task, etag);
    if (!focusTask(id, "reopen", "complete", "edit")) $("tasks-heading").focus();
    announce(`“${task.title}” is now ${humanize(status).toLowerCase()}.`);
  } catch (error) {
    conflictInList(id, error);
  }
}

/** Asks before a deletion, in the confirmation dialog; resolves to whether the user chose
 * Delete. Keeping it returns the focus to the button that asked (or ``fallback`` if that is
 * gone), unless the user already moved it. */
function confirmDeletion(heading, text, fallback) {
  const dialog = $("confirm-dialog");
  $("confirm-heading").textContent = heading;
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  const opener = document.activeElement;
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const confirmed = dialog.returnValue === "delete";
        if (!confirmed && focusWasLost(dialog)) (opener?.isConnected ? opener : fallback).focus();
        resolve(confirmed);
      },
      { once: true },
    );
  });
}

async function confirmDelete(id) {
  const task = list.tasks.get(id);
  const text = `“${task.title}” will be deleted. This cannot be undone.`;
  if (!(await confirmDeletion("Delete task?", text, $("tasks-heading")))) return;
  try {
    const etag = await shownEtag(id);
    await api("DELETE", `/tasks/${encodeURIComponent(id)}`, { headers: { "If-Match": etag } });
    removeTask(id);
    announce(`Deleted “${task.title}”.`);
    $("tasks-heading").focus();
  } catch (error) {
    conflictInList(id, error);
  }
}

// --- the edit dialog -------------------------------------------------------------------------

const editing = { id: null, original: null, etag: null, opener: null };

/** The editor starts from the version the list shows; if that is no longer current, it
 * starts from the current one and says so. */
async function openEditor(id) {
  const form = $("edit-form");
  editing.opener = document.activeElement;
  let changed = false;
  let task = list.tasks.get(id);
  try {
    editing.etag = await shownEtag(id);
  } catch (error) {
    if (!(error instanceof ChangedElsewhere)) return conflictInList(id, error);
    changed = true;
    task = error.current;
    editing.etag = list.etags.get(id).etag;
  }
  editing.id = id;
  fillForm(form, task);
  editing.original = formValues(form);
  clearErrors(form);
  $("conflict").hidden = true;
  const general = form.querySelector(".form-error");
  if (changed) {
    general.textContent = "Someone else changed this task since the list loaded; this is the current version.";
    general.hidden = false;
  }
  $("edit-dialog").showModal();
  form.elements.title.focus();
  openDiscussion(id);
}

/** The task is gone (a 404 for it): the dialog closes and the list lets it go. */
function taskGoneFromDialog() {
  $("edit-dialog").close();
  removeTask(editing.id);
  showBanner("That task no longer exists; it was deleted elsewhere.");
}

/** Only the fields the user changed, so an edit never rewrites what it did not touch. */
function changedFields(before, after) {
  const changes = {};
  for (const name of FIELD_NAMES) {
    if (!(name in after)) continue;
    if (JSON.stringify(before[name]) !== JSON.stringify(after[name])) changes[name] = after[name];
  }
  return changes;
}

async function saveEdit(event) {
  event.preventDefault();
  const form = $("edit-form");
  const changes = changedFields(editing.original, formValues(form));
  if (!Object.keys(changes).length) {
    $("edit-dialog").close();
    return;
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { data: task, etag } = await patchTask(editing.id, changes, editing.etag);
    updateTask(task, etag);
    $("edit-dialog").close();
    announce(`Saved “${task.title}”.`);
  } catch (error) {
    if (error instanceof SignInRequired) return;
    if (error.status === 412) {
      clearErrors(form);
      $("conflict").hidden = false;
      $("conflict-reload").focus();
    } else if (error.status === 404) {
      taskGoneFromDialog();
    } else {
      showErrors(form, error);
    }
  } finally {
    submit.disabled = false;
  }
}

async function reloadEdited() {
  const form = $("edit-form");
  try {
    const task = await reloadTask(editing.id);
    editing.etag = list.etags.get(task.id).etag;
    fillForm(form, task);
    editing.original = formValues(form);
    clearErrors(form);
    $("conflict").hidden = true;
    announce("Reloaded the current version.");
    form.elements.title.focus();
    loadHistory(); // the change that caused the conflict
  } catch (error) {
    if (error instanceof SignInRequired) return;
    if (error.status === 404) {
      taskGoneFromDialog();
    } else {
      showErrors(form, error);
    }
  }
}

// --- the task's comments and history, in the edit dialog -----------------------------------

// comments: what the dialog shows, by id; etags: the ETag of a version it fetched (GET, POST
// or PATCH; a list page carries none), as for tasks. editor: the comment being edited.
const discussion = {
  taskId: null,
  comments: new Map(),
  etags: new Map(),
  commentsCursor: null,
  commentLoads: 0, // numbers each load, so that a late answer (another task's) is dropped
  historyCursor: null,
  historyLoads: 0,
  editor: null, // { id, etag, original }
};
/** A key per intended comment, as for tasks: a retry cannot post it twice. */
let pendingComment = null;

const taskPath = (taskId) => `/tasks/${encodeURIComponent(taskId)}`;
const commentsPath = (taskId) => `${taskPath(taskId)}/comments`;
const commentPath = (taskId, id) => `${commentsPath(taskId)}/${encodeURIComponent(id)}`;
const withCursor = (path, cursor) => (cursor ? `${path}?${new URLSearchParams({ cursor })}` : path);

/** Who acted, as the page says it: "you" (the caller), "the system" (an expiry), or the id. */
function actorName(actor) {
  if (!actor || actor.type !== "user") return "the system";
  const me = signIn ? session.sub : config.anonymousUser;
  return actor.id && actor.id === me ? "you" : actor.id || "a user";
}

function timeElement(at) {
  const parsed = new Date(at);
  return h("time", { dateTime: at }, Number.isNaN(parsed.getTime()) ? at : dateTimeFormat.format(parsed));
}

/** Starts the dialog's comments and history on the task it now edits. A comment being
 * written for the same task is kept. */
function openDiscussion(taskId) {
  const form = $("comment-form");
  if (discussion.taskId !== taskId) form.reset();
  clearErrors(form);
  Object.assign(discussion, { taskId, commentsCursor: null, historyCursor: null, editor: null });
  discussion.comments.clear();
  discussion.etags.clear();
  $("comment-list").replaceChildren();
  $("history-list").replaceChildren();
  commentsNotice("");
  loadComments();
  loadHistory();
}

function sectionStatus(id, text, ...actions) {
  const status = $(id);
  status.replaceChildren(text, ...actions);
  status.hidden = !text;
}

const retryButton = (work) => h("button", { type: "button", className: "button button-small", onclick: work }, "Try again");

// --- comments

function commentItem(id) {
  return [...$("comment-list").children].find((item) => item.dataset.id === id) || null;
}

function commentButton(label, action, comment, className = "button button-small") {
  // The hidden part names the comment for screen readers.
  return h("button", { type: "button", className, "data-action": action }, label, h("span", { className: "visually-hidden" }, ` comment “${excerpt(comment.body)}”`));
}

function renderComment(comment) {
  const metaId = `comment-${comment.id}-meta`;
  return h(
    "li",
    { className: "comment", "data-id": comment.id },
    h(
      "article",
      { "aria-labelledby": metaId },
      h(
        "p",
        { id: metaId, className: "comment-meta" },
        h("span", { className: "comment-author" }, capitalize(actorName(comment.author))),
        " · ",
        timeElement(comment.createdAt),
        comment.version > 1 ? " · edited" : null,
      ),
      h("p", { className: "comment-body" }, comment.body),
      h(
        "div",
        { className: "comment-actions" },
        commentButton("Edit", "edit", comment),
        commentButton("Delete", "delete", comment, "button button-small button-danger"),
      ),
      h("div", { className: "comment-message", role: "alert" }),
    ),
  );
}

/** Shows a comment's version (with its ETag, if the answer carried one), in id order: a
 * comment id sorts as its creation time, the list's order. A comment being edited keeps
 * its editor. */
function showComment(comment, etag) {
  discussion.comments.set(comment.id, comment);
  if (etag) discussion.etags.set(comment.id, { etag, version: comment.version, createdAt: comment.createdAt });
  const item = commentItem(comment.id);
  if (item?.classList.contains("is-editing")) return;
  const rendered = renderComment(comment);
  if (item) {
    item.replaceWith(rendered);
    return;
  }
  const later = [...$("comment-list").children].find((other) => other.dataset.id > comment.id);
  $("comment-list").insertBefore(rendered, later || null);
}

function removeComment(id) {
  discussion.comments.delete(id);
  discussion.etags.delete(id);
  if (discussion.editor?.id === id) discussion.editor = null;
  commentItem(id)?.remove();
  updateCommentsStatus();
}

function updateCommentsStatus() {
  const count = discussion.comments.size;
  let text = "";
  if (!count) text = discussion.commentsCursor ? "No comments among those loaded so far." : "No comments yet.";
  sectionStatus("comments-status", text);
  $("comments-more").hidden = !discussion.commentsCursor;
}

/** The first page of comments (oldest first), or the next one. */
async function loadComments({ more = false } = {}) {
  const taskId = discussion.taskId;
  const load = ++discussion.commentLoads;
  $("comment-list").setAttribute("aria-busy", "true");
  sectionStatus("comments-status", "Loading comments…");
  $("comments-more").hidden = true;
  try {
    const { data } = await api("GET", withCursor(commentsPath(taskId), more ? discussion.commentsCursor : null));
    if (load !== discussion.commentLoads) return;
    discussion.commentsCursor = data.nextCursor;
    const fresh = data.items.filter((comment) => !discussion.comments.has(comment.id));
    for (const comment of fresh) showComment(comment);
    if (more && fresh.length) announce(`Loaded ${fresh.length} more comment${fresh.length === 1 ? "" : "s"}.`);
    updateCommentsStatus();
  } catch (error) {
    if (error instanceof SignInRequired || load !== discussion.commentLoads) return;
    if (error.status === 404) {
      taskGoneFromDialog();
      return;
    }
    sectionStatus("comments-status", `Could not load comments. ${describeError(error)} `, retryButton(() => loadComments({ more })));
  } finally {
    if (load === discussion.commentLoads) $("comment-list").removeAttribute("aria-busy");
  }
}

/** A message for the comments as a whole (one that has gone, say); "" clears it. */
function commentsNotice(text) {
  const box = $("comments-message");
  box.textContent = text;
  box.hidden = !text;
}

function commentMessage(id, text, ...actions) {
  const box = commentItem(id)?.querySelector(".comment-message");
  if (!box) return commentsNotice(text);
  box.replaceChildren(h("p", {}, text), ...actions);
}

/** The ETag of the version the dialog shows: known, or read with one GET. A GET that finds
 * a newer version shows it and refuses the action, as the API's 412 would. */
async function shownCommentEtag(id) {
  const shown = discussion.comments.get(id);
  const known = discussion.etags.get(id);
  if (known && sameVersion(known, shown)) return known.etag;
  const { data: comment, etag } = await api("GET", commentPath(discussion.taskId, id));
  showComment(comment, etag);
  if (!sameVersion(comment, shown)) throw new ChangedElsewhere(comment);
  return etag;
}

/** A comment route's 404 means the task is gone (every comment route requires it) or only
 * the comment: one GET of the task tells which. */
async function commentNotFound(id) {
  try {
    await api("GET", taskPath(discussion.taskId));
  } catch (error) {
    if (error instanceof SignInRequired) return;
    if (error.status === 404) taskGoneFromDialog();
    else commentsNotice(describeError(error));
    return;
  }
  removeComment(id);
  commentsNotice("That comment no longer exists; it was deleted elsewhere.");
  $("comments-heading").focus();
}

async function reloadComment(id) {
  try {
    const { data: comment, etag } = await api("GET", commentPath(discussion.taskId, id));
    showComment(comment, etag);
    announce("Comment reloaded.");
    commentItem(id)?.querySelector("[data-action=edit]")?.focus();
  } catch (error) {
    commentFailed(id, error);
  }
}

/** What a comment action that was refused shows: as for a task in the list. */
function commentFailed(id, error) {
  if (error instanceof SignInRequired) return;
  if (error instanceof ChangedElsewhere) {
    commentMessage(id, "Someone else changed this comment since it was loaded; it now shows the current version. Nothing was changed.");
  } else if (error.status === 412) {
    const reload = h("button", { type: "button", className: "button button-small", onclick: () => reloadComment(id) }, "Reload comment");
    commentMessage(id, "Someone else changed this comment since it was loaded; nothing was changed.", reload);
  } else if (error.status === 404) {
    commentNotFound(id);
  } else {
    commentMessage(id, describeError(error));
  }
}

async function addComment(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const taskId = discussion.taskId;
  const body = { body: form.elements.body.value };
  const signature = JSON.stringify([taskId, body]);
  if (!pendingComment || pendingComment.signature !== signature) pendingComment = { signature, key: newKey() };
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { data: comment, etag } = await api("POST", commentsPath(taskId), { body, headers: { "Idempotency-Key": pendingComment.key } });
    pendingComment = null;
    if (taskId !== discussion.taskId) return; // the dialog has moved on to another task
    clearErrors(form);
    form.reset();
    commentsNotice("");
    showComment(comment, etag);
    updateCommentsStatus();
    announce("Comment added.");
    form.elements.body.focus();
    loadHistory(); // its "commented" event
  } catch (error) {
    if (error instanceof SignInRequired || taskId !== discussion.taskId) return;
    if (error.status === 404) taskGoneFromDialog();
    else showErrors(form, error);
  } finally {
    submit.disabled = false;
  }
}

/** Edits a comment in place. The editor starts from the version shown; if that is no longer
 * current, from the current one, and says so (as the task editor does). One at a time. */
async function openCommentEditor(id) {
  const taskId = discussion.taskId;
  let comment = discussion.comments.get(id);
  let changed = false;
  let etag;
  try {
    etag = await shownCommentEtag(id);
  } catch (error) {
    if (!(error instanceof ChangedElsewhere)) return commentFailed(id, error);
    changed = true;
    comment = error.current;
    etag = discussion.etags.get(id).etag;
  }
  if (taskId !== discussion.taskId) return;
  if (discussion.editor) closeCommentEditor({ focus: false });
  const item = commentItem(id);
  if (!item) return;
  const form = h("form", { id: `comment-edit-${id}`, className: "stack comment-editor", noValidate: true });
  form.append(
    h(
      "div",
      { className: "conflict", role: "alert", hidden: true },
      h("p", {}, h("strong", {}, "Someone else changed this comment"), " after you started editing it. Your changes were not saved."),
      h("p", {}, "Reload it to see the current version, then make your changes again."),
      h("button", { type: "button", className: "button", "data-action": "reload" }, "Reload comment"),
    ),
    h("p", { className: "form-error", role: "alert", hidden: !changed }, changed ? "Someone else changed this comment since it was loaded; this is the current version." : null),
    field(form, "body", "Edit comment", h("textarea", { rows: 3, value: comment.body })),
    h(
      "div",
      { className: "form-actions" },
      h("button", { type: "submit", className: "button button-primary button-small" }, "Save comment"),
      h("button", { type: "button", className: "button button-quiet button-small", "data-action": "cancel" }, "Cancel"),
    ),
  );
  form.addEventListener("submit", saveComment);
  form.querySelector("[data-action=reload]").addEventListener("click", reloadEditedComment);
  form.querySelector("[data-action=cancel]").addEventListener("click", () => closeCommentEditor());
  discussion.editor = { id, etag, original: comment.body };
  item.classList.add("is-editing");
  item.querySelector(".comment-message").replaceChildren();
  item.querySelector(".comment-body").hidden = true;
  item.querySelector(".comment-actions").hidden = true;
  item.querySelector(".comment-meta").after(form);
  form.elements.body.focus();
}

/** Leaves the editor: the comment shows its latest known version again. */
function closeCommentEditor({ focus = true } = {}) {
  const { id } = discussion.editor;
  discussion.editor = null;
  const item = commentItem(id);
  if (!item) return;
  item.classList.remove("is-editing");
  showComment(discussion.comments.get(id));
  if (focus) commentItem(id)?.querySelector("[data-action=edit]")?.focus();
}

/** PATCH with If-Match: a change made by someone else meanwhile is a 412, never lost. */
async function saveComment(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const editor = discussion.editor;
  const body = form.elements.body.value;
  if (body === editor.original) {
    closeCommentEditor();
    return;
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { data: comment, etag } = await api("PATCH", commentPath(discussion.taskId, editor.id), {
      body: { body },
      contentType: "application/merge-patch+json",
      headers: { "If-Match": editor.etag },
    });
    if (discussion.editor !== editor) return;
    discussion.comments.set(comment.id, comment);
    discussion.etags.set(comment.id, { etag, version: comment.version, createdAt: comment.createdAt });
    closeCommentEditor();
    announce("Comment saved.");
  } catch (error) {
    if (error instanceof SignInRequired || discussion.editor !== editor) return;
    if (error.status === 412) {
      clearErrors(form);
      form.querySelector(".conflict").hidden = false;
      form.querySelector("[data-action=reload]").focus();
    } else if (error.status === 404) {
      commentNotFound(editor.id);
    } else {
      showErrors(form, error);
    }
  } finally {
    submit.disabled = false;
  }
}

/** After a 412: the editor takes the current version, to make the changes again. */
async function reloadEditedComment(event) {
  const form = event.currentTarget.closest("form");
  const editor = discussion.editor;
  try {
    const { data: comment, etag } = await api("GET", commentPath(discussion.taskId, editor.id));
    if (discussion.editor !== editor) return;
    showComment(comment, etag);
    editor.etag = etag;
    editor.original = comment.body;
    form.elements.body.value = comment.body;
    clearErrors(form);
    form.querySelector(".conflict").hidden = true;
    announce("Reloaded the current version.");
    form.elements.body.focus();
  } catch (error) {
    if (error instanceof SignInRequired || discussion.editor !== editor) return;
    if (error.status === 404) commentNotFound(editor.id);
    else showErrors(form, error);
  }
}

async function deleteComment(id) {
  const comment = discussion.comments.get(id);
  const text = `The comment “${excerpt(comment.body)}” will be deleted. This cannot be undone.`;
  if (!(await confirmDeletion("Delete comment?", text, $("comments-heading")))) return;
  try {
    const etag = await shownCommentEtag(id);
    await api("DELETE", commentPath(discussion.taskId, id), { headers: { "If-Match": etag } });
    removeComment(id);
    announce("Comment deleted.");
    $("comments-heading").focus();
  } catch (error) {
    commentFailed(id, error);
  }
}

// --- history

/** A changed value as text: "none" for an empty one, choices and dates as the page shows
 * them elsewhere, text in quotes. */
function changeValue(name, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return h("em", {}, "none");
  if (Array.isArray(value)) return value.map((item) => `“${item}”`).join(", ");
  if (name === "status" || name === "priority") return humanize(value);
  if (name === "dueDate") return formatDue(value);
  if (name === "expireAt" && typeof value === "number") return dateTimeFormat.format(new Date(value * 1000));
  return typeof value === "string" ? `“${value}”` : String(value);
}

function renderEvent(event) {
  const changes = Object.entries(event.changes || {});
  return h(
    "li",
    { className: `event event-${event.type}`, "data-id": event.id },
    h("p", { className: "event-summary" }, h("strong", {}, humanize(event.type)), ` by ${actorName(event.actor)}, `, timeElement(event.at)),
    changes.length
      ? h(
          "ul",
          { className: "changes", "aria-label": "Changed fields" },
          changes.map(([name, change]) => h("li", {}, `${fieldLabel(name)}: from `, changeValue(name, change.from), " to ", changeValue(name, change.to))),
        )
      : null,
  );
}

/** The first page of the task's history (newest first), replacing what is shown, or the
 * next one. */
async function loadHistory({ more = false } = {}) {
  const taskId = discussion.taskId;
  const load = ++discussion.historyLoads;
  $("history-list").setAttribute("aria-busy", "true");
  if (!$("history-list").children.length || more) sectionStatus("history-status", "Loading history…");
  $("history-more").hidden = true;
  try {
    const path = withCursor(`${taskPath(taskId)}/activity`, more ? discussion.historyCursor : null);
    const { data } = await api("GET", path);
    if (load !== discussion.historyLoads) return;
    const events = $("history-list");
    if (!more) events.replaceChildren();
    const shown = new Set([...events.children].map((item) => item.dataset.id));
    const fresh = data.items.filter((event) => !shown.has(event.id));
    events.append(...fresh.map(renderEvent));
    discussion.historyCursor = data.nextCursor;
    if (more && fresh.length) announce(`Loaded ${fresh.length} more event${fresh.length === 1 ? "" : "s"}.`);
    sectionStatus("history-status", events.children.length ? "" : "No history yet.");
    $("history-more").hidden = !data.nextCursor;
  } catch (error) {
    if (error instanceof SignInRequired || load !== discussion.historyLoads) return;
    sectionStatus("history-status", `Could not load the history. ${describeError(error)} `, retryButton(() => loadHistory({ more })));
    $("history-more").hidden = !discussion.historyCursor;
  } finally {
    if (load === discussion.historyLoads) $("history-list").removeAttribute("aria-busy");
  }
}

// --- sign-in ---------------------------------------------------------------------------------

const SIGN_IN_MESSAGES = {
  NotAuthorizedException: "Incorrect email or password.",
  UserNotFoundException: "Incorrect email or password.",
  UserNotConfirmedException: "This account is not confirmed yet. Confirm it from the email Cognito sent, then sign in.",
  PasswordResetRequiredException: "This account needs a password reset before it can sign in.",
  InvalidPasswordException: null, // Cognito's message names the rule that failed
  CodeMismatchException: "That code is not right. Try the current one.",
  ExpiredCodeException: "That code has expired. Try the current one.",
  TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
  LimitExceededException: "Too many attempts. Wait a moment and try again.",
};

const pendingChallenge = { name: null, session: null, username: null };

function showSignInForm(id) {
  for (const form of ["password-form", "new-password-form", "mfa-form", "token-form"]) $(form).hidden = form !== id;
  const form = $(id);
  form.reset();
  form.querySelector("input, textarea")?.focus();
}

function showSignIn(message = "") {
  $("workspace").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  const box = $("sign-in-message");
  box.textContent = message;
  box.hidden = !message;
  showSignInForm(signIn.clientId ? "password-form" : "token-form");
}

function signInFailed(error) {
  const box = $("sign-in-message");
  if (error instanceof CognitoError) box.textContent = SIGN_IN_MESSAGES[error.type] || error.message;
  else if (error instanceof TypeError) box.textContent = "Cognito could not be reached. Check your connection and try again.";
  else box.textContent = error.message || "Sign-in failed.";
  box.hidden = false;
}

async function afterAuthentication(data, username) {
  if (data.AuthenticationResult) {
    startSession(data.AuthenticationResult.IdToken, data.AuthenticationResult.RefreshToken);
    $("sign-in-message").hidden = true;
    enterWorkspace();
    return;
  }
  Object.assign(pendingChallenge, { name: data.ChallengeName, session: data.Session, username });
  if (data.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    showSignInForm("new-password-form");
    $("new-password-form").elements.username.value = username; // for password managers
  }
  else if (data.ChallengeName === "SOFTWARE_TOKEN_MFA") showSignInForm("mfa-form");
  else signInFailed(new Error(`This page cannot complete the ${data.ChallengeName} step. Use another client to sign in.`));
}

async function submitWithBusy(form, work) {
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await work();
  } catch (error) {
    signInFailed(error);
  } finally {
    submit.disabled = false;
  }
}

function wireSignIn() {
  $("password-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const username = form.elements.email.value.trim();
    const password = form.elements.password.value;
    submitWithBusy(form, async () => {
      const data = await cognito("InitiateAuth", { AuthFlow: "USER_PASSWORD_AUTH", AuthParameters: { USERNAME: username, PASSWORD: password } });
      await afterAuthentication(data, username);
    });
  });
  /** A form that answers Cognito's pending challenge with what ``answer`` reads from it. */
  const answersChallenge = (id, challenge, answer) =>
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      submitWithBusy(form, async () => {
        const data = await cognito("RespondToAuthChallenge", {
          ChallengeName: challenge,
          Session: pendingChallenge.session,
          ChallengeResponses: { USERNAME: pendingChallenge.username, ...answer(form.elements) },
        });
        await afterAuthentication(data, pendingChallenge.username);
      });
    });
  answersChallenge("new-password-form", "NEW_PASSWORD_REQUIRED", (fields) => ({ NEW_PASSWORD: fields.newPassword.value }));
  answersChallenge("mfa-form", "SOFTWARE_TOKEN_MFA", (fields) => ({ SOFTWARE_TOKEN_MFA_CODE: fields.code.value.trim() }));
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = event.currentTarget.elements.token.value.trim();
    const payload = claims(token);
    if (!payload) {
      const box = $("sign-in-message");
      box.textContent = "That is not an ID token: expected three base64url parts separated by dots.";
      box.hidden = false;
      return;
    }
    startSession(token);
    $("sign-in-message").hidden = true;
    enterWorkspace();
  });
  $("sign-out").addEventListener("click", async () => {
    const refreshToken = session.refreshToken;
    endSession();
    $("task-list").replaceChildren();
    list.tasks.clear();
    list.etags.clear();
    showSignIn("You are signed out.");
    if (refreshToken && signIn.clientId) cognito("RevokeToken", { Token: refreshToken }).catch(() => {});
  });
}

// --- start -----------------------------------------------------------------------------------

function enterWorkspace() {
  $("sign-in").hidden = true;
  $("workspace").hidden = false;
  if (signIn) {
    $("account-name").textContent = session.name;
    $("account").hidden = false;
  }
  if (signIn) $("create-form").elements.title.focus(); // the sign-in form just went away
  loadPage();
}

function wireWorkspace() {
  buildTaskFields($("create-form"), { withStatus: false });
  buildTaskFields($("edit-form"), { withStatus: true });
  $("filter-status").append(...options(config.statuses, null));
  $("filter-priority").append(...options(config.priorities, null));
  for (const select of [$("filter-status"), $("filter-priority")]) select.value = "";
  readFiltersFromUrl();

  $("create-form").addEventListener("submit", createTask);
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const filters = { status: form.elements.status.value, priority: form.elements.priority.value, tag: form.elements.tag.value.trim() };
    loadPage({ filters });
  });
  $("clear-filters").addEventListener("click", () => {
    $("filter-form").reset();
    clearFilterErrors($("filter-form"));
    loadPage({ filters: { status: "", priority: "", tag: "" } });
  });
  $("load-more").addEventListener("click", () => loadPage({ more: true }));
  $("task-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("li[data-id]").dataset.id;
    const action = button.dataset.action;
    if (action === "edit") openEditor(id);
    else if (action === "complete") setStatus(id, "completed");
    else if (action === "cancel") setStatus(id, "cancelled");
    else if (action === "reopen") setStatus(id, config.defaults.status);
    else if (action === "delete") confirmDelete(id);
  });
  $("edit-form").addEventListener("submit", saveEdit);
  $("edit-form").querySelector("[data-close]").addEventListener("click", () => $("edit-dialog").close());
  $("edit-dialog").addEventListener("close", () => {
    if (!focusWasLost($("edit-dialog"))) return;
    if (!focusTask(editing.id, "edit")) (editing.opener?.isConnected ? editing.opener : $("tasks-heading")).focus();
  });
  $("conflict-reload").addEventListener("click", reloadEdited);

  const commentForm = $("comment-form");
  const hint = `Up to ${config.limits.comment} characters.`;
  commentForm.querySelector(".form-actions").before(field(commentForm, "body", "Add a comment", h("textarea", { rows: 3 }), hint));
  commentForm.addEventListener("submit", addComment);
  $("comments-more").addEventListener("click", () => loadComments({ more: true }));
  $("history-more").addEventListener("click", () => loadHistory({ more: true }));
  $("comment-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const item = button?.closest("li[data-id]");
    if (!item || button.closest(".comment-editor")) return;
    if (button.dataset.action === "edit") openCommentEditor(item.dataset.id);
    else if (button.dataset.action === "delete") deleteComment(item.dataset.id);
  });
}

wireWorkspace();
if (signIn) {
  wireSignIn();
  showSignIn();
} else {
  enterWorkspace();
}
