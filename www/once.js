// A secret the relay shows once — a new password, an API key's token, a
// kiosk or share link — put on the page with a Copy button. The text sits in
// a plain element (selectable by hand too), never in an attribute or the
// address bar. Copying uses the Clipboard API where the page may (HTTPS or
// localhost); a relay on plain HTTP in a LAN is not a "secure context", so
// there the text is selected and copied the old way, and if even that is
// refused the user is told to copy the selected text themselves.

/** Copies `element`'s text; resolves with what to tell the user. */
export async function copyText(element) {
  const text = element.textContent;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return "Copied";
    } catch {
      // Refused (no permission, page not focused): try the old way.
    }
  }
  getSelection().selectAllChildren(element);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  return copied ? "Copied" : "Selected: press Ctrl+C (⌘C) to copy";
}

/**
 * Fills `box` (holding `.once-value`, `.once-copy` and `.once-said`) with
 * `text` and wires its Copy button; returns the value element.
 */
export function showOnce(box, text) {
  const value = box.querySelector(".once-value");
  const copy = box.querySelector(".once-copy");
  const said = box.querySelector(".once-said");
  value.textContent = text;
  said.textContent = "";
  copy.onclick = async () => {
    said.textContent = "";
    said.textContent = await copyText(value);
  };
  box.hidden = false;
  return value;
}
