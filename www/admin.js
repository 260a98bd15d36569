// The admin page, `/admin`: users, API keys, kiosk devices, share links,
// signing keys and the audit log, each a section with a table filled from the
// relay's API and the buttons that change it. The relay decides and checks
// everything (an admin session, the CSRF token, valid names and camera
// lists): this page only asks, shows the answer, and shows the `message` of a
// refusal in the section's alert region.
//
// Secrets the relay hands out once — a made-up password, an API key's token,
// a kiosk device's link, a one-time sign-in link — appear in the #secret
// dialog with a Copy button, and are dropped from the page when it closes.
// After each change the section's table is read again (the relay's answer is
// the truth), focus goes back to the same button of the same row, or to the
// section's heading when that row is gone, and the audit log's first page is
// read again when it is the page shown.
//
// `data-app="admin-ready"` on <html> says every section has loaded (for
// scripts and the end-to-end tests); `admin-refused` that the visitor is no
// admin (or the relay has no accounts).

import { del, get, me, post, retrying, showSignedIn } from "./api.js";
import { showOnce } from "./once.js";

const AUDIT_PAGE = 50;
const status = document.getElementById("admin-status");
const main = document.getElementById("admin");
const secret = document.getElementById("secret");
/** Who is signed in: `{name, role, cameras}`. */
let self = null;

// ---------------------------------------------------------------- helpers

/** An element with text (never HTML) and attributes. */
function el(tag, text = "", attrs = {}) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  for (const [name, value] of Object.entries(attrs)) e.setAttribute(name, value);
  return e;
}

/** A table cell; `label` is shown before the value where rows become cards (phones). */
function cell(label, ...content) {
  const td = el("td", "", { "data-label": label });
  td.append(...content.filter((c) => c !== null && c !== undefined));
  return td;
}

/** Unix seconds → a <time> in the reader's locale; "—" for none. */
function when(seconds, none = "—") {
  if (seconds === null || seconds === undefined) return none;
  const date = new Date(seconds * 1000);
  return el("time", date.toLocaleString(), { datetime: date.toISOString() });
}

/** `"*"` or `["a","b"]` → the text form the forms use: `*` or `a,b`. */
function grantText(cameras) {
  return Array.isArray(cameras) ? cameras.join(",") : String(cameras ?? "");
}

/** A button doing `action` (named in `data-action`); `label` names it for screen readers. */
function button(text, action, label, onClick, danger = false) {
  const b = el("button", text, { type: "button", "data-action": action });
  if (label) b.setAttribute("aria-label", label);
  if (danger) b.className = "danger";
  b.addEventListener("click", onClick);
  return b;
}

const path = (...parts) => parts.map(encodeURIComponent).join("/");

/** To the sign-in page, which comes back here. Never resolves. */
function toLogin() {
  location.replace(`login?next=${encodeURIComponent(location.pathname + location.search)}`);
  return new Promise(() => {});
}

// --------------------------------------------------------------- sections

/**
 * One section: how to read its items, how one becomes a row, and the row's
 * key (set as `data-row`, and as `data-<attr>` for tests and scripts).
 */
const sections = {
  users: { load: () => get("api/users"), attr: "user", key: (u) => u.name, row: userRow },
  keys: { load: () => get("api/keys"), attr: "key", key: (k) => k.id, row: keyRow },
  devices: { load: () => get("api/devices"), attr: "device", key: (d) => d.id, row: deviceRow },
  shares: { load: () => get("api/shares"), attr: "share", key: (s) => s.id, row: shareRow },
  "signing-keys": { load: () => get("api/signing-keys"), attr: "kid", key: (k) => k.kid, row: signingKeyRow },
  audit: { load: () => get(auditUrl(audit.before)), attr: "audit", key: (a) => a.id, row: auditRow, empty: "No entries." },
};

/** Says `text` in the section's status region (cleared first: the same words twice are read twice). */
function say(name, text) {
  const region = document.getElementById(`${name}-status`);
  region.textContent = "";
  region.textContent = text;
}

/** Shows a refusal in the section's alert region, or clears it with null. A 401 goes to sign in. */
function fail(name, e) {
  const region = document.getElementById(`${name}-error`);
  region.textContent = "";
  if (!e) return;
  if (e.status === 401) return toLogin();
  region.textContent = e.message || String(e);
}

/** Puts `items` in the section's table. */
function render(name, items) {
  const section = sections[name];
  const rows = items.map((item) => {
    const tr = section.row(item);
    const key = String(section.key(item));
    tr.dataset.row = key;
    tr.dataset[section.attr] = key;
    return tr;
  });
  if (!rows.length) {
    const columns = document.querySelectorAll(`#${name} thead th`).length;
    rows.push(el("tr", "", { class: "empty" }));
    rows[0].append(el("td", section.empty ?? "None yet.", { colspan: columns }));
  }
  document.querySelector(`#${name} tbody`).replaceChildren(...rows);
  if (name === "audit") showPager(items);
}

/** Reads the section's items from the relay and puts them in its table (or says why not). */
async function reload(name) {
  try {
    render(name, await sections[name].load());
    fail(name, null);
  } catch (e) {
    fail(name, e);
  }
}

/** Whether focus was lost: on nothing, the page itself, or an element no longer there. */
function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || !active.isConnected;
}

/**
 * Runs `work` for section `name` (a click or a form's submit on `control`),
 * at most once at a time per control; a refusal is shown in the section. Then,
 * if focus was lost (the row was drawn anew, a dialog closed), it goes to the
 * element `work` resolved with, else the same control of the same row, else
 * the first usable control of that row, else the section's heading. Controls
 * are marked busy, not disabled: a disabled button would drop the focus.
 */
async function act(name, control, work) {
  if (control.dataset.busy) return;
  const key = control.closest("tr[data-row]")?.dataset.row;
  const action = control.dataset.action;
  control.dataset.busy = "true";
  control.setAttribute("aria-disabled", "true");
  fail(name, null);
  let target = null;
  try {
    target = await work();
    // The change is in the log now: show it if the newest page is shown.
    if (name !== "audit" && audit.before === null) reload("audit");
  } catch (e) {
    fail(name, e);
  } finally {
    delete control.dataset.busy;
    control.removeAttribute("aria-disabled");
  }
  if (target instanceof HTMLElement) return target.focus();
  if (!focusLost()) return;
  const section = document.getElementById(name);
  const row = key ? section.querySelector(`tr[data-row="${CSS.escape(key)}"]`) : null;
  const candidates = key
    ? [row?.querySelector(`[data-action="${CSS.escape(action ?? "")}"]`), row?.querySelector("select, input, button:not(:disabled)")]
    : [control];
  const usable = candidates.find((c) => c?.isConnected && !c.disabled);
  (usable ?? section.querySelector("h2")).focus();
}

// ------------------------------------------------------------ the secret

/**
 * Shows a once-only secret in the #secret dialog: `title`, a `warning` (why
 * it matters, that it is not shown again) and the `value` with a Copy button;
 * `kind` (password, token, link) goes in `data-kind`. Resolves when the
 * dialog closes (Done or Esc); the value is dropped from the page then.
 */
function showSecret(kind, title, warning, value) {
  document.getElementById("secret-title").textContent = title;
  document.getElementById("secret-warning").textContent = warning;
  showOnce(document.getElementById("secret-box"), value);
  secret.dataset.kind = kind;
  secret.showModal();
  document.getElementById("secret-copy").focus();
  return new Promise((resolve) => {
    secret.addEventListener(
      "close",
      () => {
        document.getElementById("secret-value").textContent = "";
        delete secret.dataset.kind;
        resolve();
      },
      { once: true },
    );
  });
}

// ------------------------------------------------------------------ users

function userRow(user) {
  const you = self && user.name === self.name;
  const role = el("select", "", { "aria-label": `Role of ${user.name}`, "data-field": "role" });
  for (const r of ["viewer", "operator", "admin"]) {
    const option = el("option", r, { value: r });
    option.selected = r === user.role;
    role.append(option);
  }
  const cameras = el("input", "", {
    "aria-label": `Cameras of ${user.name}`,
    "data-field": "cameras",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
  });
  cameras.value = grantText(user.cameras);
  const save = button("Save", "save", `Save ${user.name}`, () =>
    act("users", save, () => saveUser(user, role.value, cameras.value.trim(), you)),
  );
  save.disabled = true;
  const changed = () => (save.disabled = role.value === user.role && cameras.value.trim() === grantText(user.cameras));
  role.addEventListener("change", changed);
  cameras.addEventListener("input", changed);
  cameras.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !save.disabled) save.click();
  });
  const reset = button("Reset password", "reset", `Reset the password of ${user.name}`, () =>
    act("users", reset, () => resetPassword(user, you)),
  );
  const link = button("Sign-in link", "link", `One-time sign-in link for ${user.name}`, () =>
    act("users", link, () => signInLink(user)),
  );
  const remove = button("Remove", "remove", `Remove ${user.name}`, () => act("users", remove, () => removeUser(user, you)), true);
  const name = cell("User", user.name);
  if (you) name.append(" ", el("span", "(you)", { class: "muted" }));
  const tr = el("tr");
  tr.append(
    name,
    cell("Role", role),
    cell("Cameras", cameras),
    cell("Created", when(user.created_at)),
    cell("Actions", save, reset, link, remove),
  );
  return tr;
}

/** `api/users/alice` (and more parts after it). */
const userPath = (name, ...more) => `api/users/${path(name, ...more)}`;

async function saveUser(user, role, cameras, you) {
  const body = {};
  if (role !== user.role) body.role = role;
  if (cameras !== grantText(user.cameras)) body.cameras = cameras;
  if (you && !confirm("This is your own account: saving ends your session too, and you sign in again.")) return;
  await post(userPath(user.name), body);
  say("users", `${user.name} saved; their sessions were ended.`);
  await reload("users");
}

async function resetPassword(user, you) {
  const whose = you ? "your own" : `${user.name}'s`;
  if (!confirm(`Reset ${whose} password? The relay makes up a new one, shown once, and ${user.name}'s sessions end.`)) return;
  const answer = await post(userPath(user.name), { new_password: true });
  say("users", `${user.name}'s password was reset.`);
  if (answer?.password) {
    return showSecret(
      "password",
      `New password for ${user.name}`,
      `Give it to ${user.name} by a safe way. It is shown only now; ${user.name} was signed out everywhere.`,
      answer.password,
    );
  }
}

async function signInLink(user) {
  const answer = await post(userPath(user.name, "link"), {});
  return showSecret(
    "link",
    `One-time sign-in link for ${user.name}`,
    `It signs in as ${user.name} once, within 15 minutes. Anyone who has it can use it: send it only to ${user.name}. It is shown only now.`,
    answer.link,
  );
}

async function removeUser(user, you) {
  const question = you
    ? "Remove your own account? You are signed out at once and cannot undo this."
    : `Remove ${user.name}? Their sessions end and they can no longer sign in.`;
  if (!confirm(question)) return;
  await del(userPath(user.name));
  say("users", `${user.name} was removed.`);
  await Promise.all([reload("users"), reload("shares")]);
}

/** The add-user form: the relay checks the name, role and cameras. Focus ends in the name field. */
async function addUser(form) {
  const name = document.getElementById("new-user-name");
  const cameras = document.getElementById("new-user-cameras");
  const password = document.getElementById("new-user-password");
  const empty = requireFields("users", name, cameras);
  if (empty) return empty;
  const body = {
    name: name.value.trim(),
    role: document.getElementById("new-user-role").value,
    cameras: cameras.value.trim(),
  };
  if (password.value) body.password = password.value;
  const answer = await post("api/users", body);
  form.reset();
  say("users", `${body.name} was added.`);
  await reload("users");
  if (answer?.password) {
    await showSecret(
      "password",
      `Password for ${body.name}`,
      `The relay made it up. Give it to ${body.name} by a safe way: it is shown only now.`,
      answer.password,
    );
  }
  return name;
}

/**
 * Empty required fields are said before anything is sent: returns the first
 * one (for focus), or null when all are filled.
 */
function requireFields(name, ...fields) {
  for (const field of fields) field.setAttribute("aria-invalid", String(!field.value.trim()));
  const empty = fields.find((field) => !field.value.trim());
  if (!empty) return null;
  const label = empty.closest("label")?.firstChild?.textContent.trim().toLowerCase() ?? "this field";
  fail(name, new Error(`Fill in the ${label}`));
  return empty;
}

// --------------------------------------------------------------- API keys

/** "Active", or "Revoked <time>" (one element: a card's cell keeps it on one line). */
function state(revokedAt, active = "Active") {
  const shown = el("span", revokedAt === null || revokedAt === undefined ? active : "Revoked ");
  if (shown.textContent !== active) shown.append(when(revokedAt));
  return [shown];
}

function keyRow(key) {
  const tr = el("tr", "", key.revoked_at ? { class: "revoked" } : {});
  const revoke = key.revoked_at
    ? null
    : button("Revoke", "revoke", `Revoke API key ${key.name}`, () => act("keys", revoke, () => revokeKey(key)), true);
  tr.append(
    cell("Name", key.name),
    cell("Role", key.role),
    cell("Cameras", grantText(key.cameras)),
    cell("Created by", key.created_by_name ?? "(removed user)"),
    cell("Created", when(key.created_at)),
    cell("Last used", when(key.last_used_at, "never")),
    cell("State", ...state(key.revoked_at)),
    cell("Actions", revoke),
  );
  return tr;
}

async function revokeKey(key) {
  if (!confirm(`Revoke the API key "${key.name}"? Its backend can no longer mint tickets, and tickets it minted stop working.`)) return;
  await del(`api/keys/${path(key.id)}`);
  say("keys", `API key "${key.name}" was revoked.`);
  await reload("keys");
}

async function addKey(form) {
  const name = document.getElementById("new-key-name");
  const role = document.getElementById("new-key-role");
  const cameras = document.getElementById("new-key-cameras");
  const empty = requireFields("keys", name, cameras);
  if (empty) return empty;
  const answer = await post("api/keys", { name: name.value.trim(), role: role.value, cameras: cameras.value.trim() });
  const created = answer.key?.name ?? name.value.trim();
  form.reset();
  say("keys", `API key "${created}" was created.`);
  await reload("keys");
  await showSecret(
    "token",
    `Token of API key "${created}"`,
    "Put it in your backend's configuration now: it is shown only now. Anyone who has it can mint tickets for this key's cameras; keep it out of web pages and source control.",
    answer.token,
  );
  return name;
}

// ---------------------------------------------------------- kiosk devices

function deviceRow(device) {
  const tr = el("tr", "", device.revoked_at ? { class: "revoked" } : {});
  const revoke = device.revoked_at
    ? null
    : button("Revoke", "revoke", `Revoke kiosk device ${device.name}`, () =>
        act("devices", revoke, () => revokeDevice(device)), true);
  tr.append(
    cell("Name", device.name),
    cell("Cameras", grantText(device.cameras)),
    cell("Created by", device.created_by_name ?? "(removed user)"),
    cell("Created", when(device.created_at)),
    cell("Last seen", when(device.last_seen_at, "never")),
    cell("State", ...state(device.revoked_at)),
    cell("Actions", revoke),
  );
  return tr;
}

async function revokeDevice(device) {
  if (!confirm(`Revoke the kiosk device "${device.name}"? Its screen goes blank at once and its link never works again.`)) return;
  await del(`api/devices/${path(device.id)}`);
  say("devices", `Kiosk device "${device.name}" was revoked.`);
  await reload("devices");
}

async function addDevice(form) {
  const name = document.getElementById("new-device-name");
  const cameras = document.getElementById("new-device-cameras");
  const empty = requireFields("devices", name, cameras);
  if (empty) return empty;
  const answer = await post("api/devices", { name: name.value.trim(), cameras: cameras.value.trim() });
  const created = answer.device?.name ?? name.value.trim();
  form.reset();
  say("devices", `Kiosk device "${created}" was added.`);
  await reload("devices");
  await showSecret(
    "link",
    `Link for kiosk device "${created}"`,
    "Open it once in the kiosk screen's browser: the screen keeps the device's token and the link leaves the address bar. Anyone who has the link can watch this device's cameras until you revoke it. It is shown only now.",
    answer.link,
  );
  return name;
}

// ------------------------------------------------------------ share links

function shareRow(share) {
  const now = Date.now() / 1000;
  const live = !share.revoked_at && share.expires_at > now;
  const tr = el("tr", "", live ? {} : { class: "revoked" });
  const revoke = live
    ? button("Revoke", "revoke", `Revoke the share link of ${share.camera} by ${share.created_by_name}`, () =>
        act("shares", revoke, () => revokeShare(share)), true)
    : null;
  const shown = share.revoked_at ? state(share.revoked_at) : [live ? "Active" : "Expired"];
  tr.append(
    cell("Camera", share.camera),
    cell("Created by", share.created_by_name),
    cell("Created", when(share.created_at)),
    cell("Expires", when(share.expires_at)),
    cell("State", ...shown),
    cell("Actions", revoke),
  );
  return tr;
}

async function revokeShare(share) {
  if (!confirm(`Revoke ${share.created_by_name}'s share link of ${share.camera}? Whoever watches with it is cut off at once.`)) return;
  await del(`api/shares/${path(share.id)}`);
  say("shares", `The share link of ${share.camera} was revoked.`);
  await reload("shares");
}

// ----------------------------------------------------------- signing keys

function signingKeyRow(key) {
  const current = !key.retired_at && !key.revoked_at;
  const shown = key.revoked_at ? "Revoked" : current ? "Current" : "Retired (still accepted)";
  const tr = el("tr", "", key.revoked_at ? { class: "revoked" } : {});
  const revoke = key.revoked_at
    ? null
    : button("Revoke", "revoke", `Revoke signing key ${key.kid}`, () =>
        act("signing-keys", revoke, () => revokeSigningKey(key, current)), true);
  tr.append(
    cell("Key", el("code", key.kid)),
    cell("Created", when(key.created_at)),
    cell("Retired", when(key.retired_at)),
    cell("Revoked", when(key.revoked_at)),
    cell("State", shown),
    cell("Actions", revoke),
  );
  return tr;
}

async function revokeSigningKey(key, current) {
  const extra = current ? " It is the current key: rotate first, or the relay may refuse." : "";
  if (!confirm(`Revoke signing key ${key.kid}? Every ticket it signed stops working, and the streams opened with them end.${extra}`)) return;
  await del(`api/signing-keys/${path(key.kid)}`);
  say("signing-keys", `Signing key ${key.kid} was revoked.`);
  await reload("signing-keys");
}

async function rotate() {
  await post("api/signing-keys/rotate", {});
  say("signing-keys", "A new signing key signs tickets from now on; the previous one is still accepted until revoked.");
  await reload("signing-keys");
}

// -------------------------------------------------------------- audit log

/**
 * The page shown: entries before id `before` (null: the newest page), the
 * `before` of each newer page (for "Newer"), and the last id shown (for "Older").
 */
const audit = { before: null, newer: [], last: null };

const auditUrl = (before) =>
  `api/audit?${new URLSearchParams(before === null ? { limit: AUDIT_PAGE } : { before, limit: AUDIT_PAGE })}`;

/** After a page is drawn: where "Older" goes, and which of the pager's buttons can be used. */
function showPager(entries) {
  audit.last = entries.length ? entries[entries.length - 1].id : null;
  document.getElementById("audit-older").disabled = entries.length < AUDIT_PAGE;
  document.getElementById("audit-newer").disabled = audit.before === null;
}

function auditRow(entry) {
  const tr = el("tr");
  tr.append(
    cell("When", when(entry.at)),
    cell("Who", entry.actor ?? "relay"),
    cell("Action", el("code", entry.action)),
    cell("Target", entry.target ?? ""),
    cell("Detail", entry.detail ?? ""),
    cell("From", entry.peer ?? ""),
  );
  return tr;
}

/** Shows the page of entries before `before` (null: the newest); `newer` is that page's stack. */
async function auditPage(control, before, newer) {
  await act("audit", control, async () => {
    const entries = await get(auditUrl(before));
    Object.assign(audit, { before, newer });
    render("audit", entries);
    say("audit", before === null ? "Newest entries shown." : `Entries before #${before} shown.`);
  });
  // The end reached: "Older" (or "Newer") is off now, so focus goes to the table's heading.
  if (control.disabled && (document.activeElement === control || focusLost())) document.getElementById("audit-title").focus();
}

// ------------------------------------------------------------------ start

function wire() {
  const forms = { "add-user": ["users", addUser], "add-key": ["keys", addKey], "add-device": ["devices", addDevice] };
  for (const [id, [name, submit]] of Object.entries(forms)) {
    const form = document.getElementById(id);
    const send = form.querySelector("button[type=submit]");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!send.disabled) act(name, send, () => submit(form));
    });
  }
  const rotateButton = document.getElementById("rotate-signing-key");
  rotateButton.addEventListener("click", () => act("signing-keys", rotateButton, rotate));
  const newest = document.getElementById("audit-newest");
  const older = document.getElementById("audit-older");
  const newer = document.getElementById("audit-newer");
  newest.addEventListener("click", () => auditPage(newest, null, []));
  older.addEventListener("click", () => {
    if (audit.last !== null) auditPage(older, audit.last, [...audit.newer, audit.before]);
  });
  newer.addEventListener("click", () => {
    if (audit.before !== null) auditPage(newer, audit.newer.at(-1) ?? null, audit.newer.slice(0, -1));
  });
}

/** "alice · admin" and Sign out. */
function showUser() {
  showSignedIn(self, (message) => (status.textContent = message));
}

/** Says why this page is not for the visitor, with a link to the cameras. */
function refuse(text) {
  const home = el("a", "Back to the cameras", { href: "./" });
  status.replaceChildren(text, " ", home);
  document.documentElement.dataset.app = "admin-refused";
}

async function start() {
  let session;
  try {
    session = await retrying(me, (why) => (status.textContent = why));
  } catch (e) {
    if (e.status === 401) return toLogin();
    status.textContent = e.message;
    return;
  }
  if (!session.auth || !session.user) {
    return refuse("This relay has no accounts (sign-in is off), so there is nothing to administer.");
  }
  self = session.user;
  showUser();
  if (self.role !== "admin") return refuse("Admins only.");
  wire();
  status.textContent = "Loading…";
  await Promise.all(Object.keys(sections).map(reload));
  status.textContent = "";
  status.hidden = true;
  main.hidden = false;
  document.documentElement.dataset.app = "admin-ready";
  dispatchEvent(new Event("sightline:admin-ready"));
}

start();
