// The sign-in page, `/login[?next=/path]`. Someone already signed in (or a
// relay that checks no one) goes straight on, to `next` or the app. The
// one-time link the relay prints at first start, `/login#token=…`, signs in
// without the form: the token is taken out of the address bar before anything
// else (so it stays out of history, bookmarks and screenshots), then sent.
// The form is plain HTML: labels, the password manager's autocomplete names,
// Enter submits, errors are read out (role=alert). `data-login="ready"` on
// <html> says the form is usable (for scripts and the end-to-end tests).

import { login, me } from "./api.js";

const form = document.getElementById("sign-in-form");
const user = document.getElementById("user");
const password = document.getElementById("password");
const button = document.getElementById("sign-in");
const status = document.getElementById("status");
const error = document.getElementById("error");

/** The sign-in link's token, and the fragment gone from the address bar. */
function takeToken() {
  if (!location.hash) return null;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(history.state, "", location.pathname + location.search);
  return token || null;
}

/**
 * Where to go once signed in: `next` if it is a path on this origin
 * ("/cameras?x", not "//evil.example", "/\evil.example" or "https://…"),
 * else the app.
 */
function destination() {
  const next = new URLSearchParams(location.search).get("next") ?? "";
  // Browsers drop tabs and newlines from URLs and read "\" as "/": refuse them
  // outright, then check what the URL parser makes of the rest.
  if (/^\/(?![/\\])/.test(next) && !/[\u0000-\u001f\\]/.test(next)) {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin) return url.href;
  }
  return new URL("./", location.href).href;
}

/** Leaves for the app; `replace` so that Back does not return to this page. */
function goOn() {
  status.textContent = "Opening Sightline…";
  location.replace(destination());
}

/** The message for a refused sign-in. */
function explain(e, withToken) {
  if (e.status === 429) {
    return e.retryAfter !== null ? `Too many attempts, try again in ${e.retryAfter} s` : e.message;
  }
  if (e.status === 401 && withToken) {
    return "This sign-in link was already used or has expired; sign in with your password";
  }
  return e.message;
}

/** Shows `message` as the error, or clears it with "". */
function showError(message) {
  error.textContent = message;
}

/** The button is off while a request is in flight, and for a 429's wait. */
function setBusy(busy) {
  button.disabled = busy;
  form.setAttribute("aria-busy", String(busy));
}

/** After a 429: no new attempt until the relay's `Retry-After` has passed. */
function holdOff(seconds) {
  setBusy(true);
  setTimeout(() => setBusy(false), seconds * 1000);
}

/** Shows the form, ready to type in. */
function showForm() {
  status.textContent = "";
  form.hidden = false;
  (user.value ? password : user).focus();
  document.documentElement.dataset.login = "ready";
  dispatchEvent(new Event("sightline:login-ready"));
}

/** Empty fields are said, and focused, before anything is sent. */
function missingField() {
  for (const [field, name] of [[user, "user name"], [password, "password"]]) {
    const empty = field === user ? !field.value.trim() : !field.value;
    field.setAttribute("aria-invalid", String(empty));
    if (empty) {
      showError(`Enter your ${name}`);
      field.focus();
      return true;
    }
  }
  return false;
}

async function submit(event) {
  event.preventDefault();
  if (button.disabled) return;
  // Cleared first, so that the same error twice is read out twice.
  showError("");
  if (missingField()) return;
  setBusy(true);
  try {
    await login({ user: user.value.trim(), password: password.value });
    goOn();
  } catch (e) {
    setBusy(false);
    showError(explain(e, false));
    if (e.status === 401) {
      password.setAttribute("aria-invalid", "true");
      password.focus();
      password.select();
    }
    if (e.status === 429 && e.retryAfter) holdOff(e.retryAfter);
  }
}

/** Signs in with the link's token; false (and the error shown) if refused. */
async function signInWithToken(token) {
  status.textContent = "Signing in with the link…";
  showError("");
  setBusy(true);
  try {
    await login({ token });
    return true;
  } catch (e) {
    status.textContent = "";
    setBusy(false);
    showError(explain(e, true));
    if (e.status === 429 && e.retryAfter) holdOff(e.retryAfter);
    return false;
  }
}

/** Goes on if someone is signed in (or no one needs to be), else shows the form. */
async function checkSession() {
  try {
    const session = await me();
    if (!session.auth || session.user) return goOn();
  } catch (e) {
    // A 401 is why we are here. Anything else (the relay is down) is said,
    // unless the link's error already is; the form is shown all the same.
    if (e.status !== 401 && !error.textContent) showError(e.message);
  }
  showForm();
}

form.addEventListener("submit", submit);
// A link opened on this very page changes only the fragment: no reload.
addEventListener("hashchange", async () => {
  const token = takeToken();
  if (token && (await signInWithToken(token))) goOn();
});
const token = takeToken();
if (token && (await signInWithToken(token))) goOn();
else await checkSession();
