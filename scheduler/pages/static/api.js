// Calls to the public API and the words a guest sees when one fails.

import { _, ngettext } from "./messages.js";

export async function call(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    return { ok: false, status: 0, data: {} };
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status alone says enough.
  }
  return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("Retry-After") };
}

// A sentence for a failed call; `taken` says what a 409 means where it came from.
export function explain(result, taken) {
  if (result.status === 0) return _("The service could not be reached. Check your connection and try again.");
  if (result.status === 409) return taken;
  if (result.status === 429) {
    const seconds = Number(result.retryAfter) || 60;
    return ngettext("Too many attempts from this address. Try again in 1 second.",
      "Too many attempts from this address. Try again in {count} seconds.", seconds);
  }
  if (result.status === 404) return _("This booking page or booking no longer exists.");
  if (result.status >= 500) return _("Something went wrong on our side. Try again in a moment.");
  const fields = result.data.fields || {};
  if (fields.start) return _("That time can't be booked: {problem}. Pick another time.", { problem: fields.start });
  const series = Object.keys(fields).find((name) => name.startsWith("recurrence"));
  if (series) return _("That series can't be booked: {problem}. Try fewer times.", { problem: fields[series] });
  if (Object.keys(fields).length) return _("Please correct the marked fields.");
  return result.data.error || _("The request was not accepted.");
}
