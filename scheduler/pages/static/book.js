// The booking page: pick a free time, give a name and an e-mail address, book.

import { call, explain } from "./api.js";
import { SlotPicker, describe, names } from "./slots.js";

const page = document.getElementById("booking");
const part = (name) => page.querySelector(`[data-${name}]`);
const form = part("guest-form");
const alert = part("alert");
const FIELDS = ["name", "email", "notes"];
const REQUIRED = { name: "Enter your name.", email: "Enter your e-mail address." };
const linkUrl = page.dataset.link;

const picker = new SlotPicker(part("slot-picker"), {
  url: `${linkUrl}/slots`,
  onChoose(slot, zone) {
    form.hidden = !slot;
    part("chosen").textContent = slot ? `You picked ${describe(slot, zone)}.` : "";
  },
});
picker.load();

// Marks the fields `errors` names (and clears the others); focuses the first one.
function markFields(errors) {
  let first = null;
  for (const name of FIELDS) {
    const input = form.elements[name];
    const message = errors[name] || "";
    document.getElementById(`${name}-error`).textContent = message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      input.removeAttribute("aria-invalid");
    }
  }
  if (first) first.focus();
  return first !== null;
}

function guest() {
  const value = (name) => form.elements[name].value.trim();
  const body = { start: picker.chosen.start, name: value("name"), email: value("email"), timezone: picker.zone };
  if (value("notes")) body.notes = value("notes");
  return body;
}

function confirmed({ booking, manage_url: manageUrl }) {
  part("choose").hidden = true;
  part("confirmation-when").textContent =
    `${booking.title} with ${names(booking.hosts)}, ${describe(booking, picker.zone)}.`;
  part("confirmation-email").textContent = booking.guest.email;
  const link = new URL(manageUrl, location.href);
  if (link.protocol === "https:" || link.protocol === "http:") part("manage-link").href = link.href;
  const section = part("confirmation");
  section.hidden = false;
  section.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  alert.textContent = "";
  const body = guest();
  const missing = Object.fromEntries(Object.entries(REQUIRED).filter(([name]) => !body[name]));
  if (markFields(missing)) return;
  const submit = part("submit");
  submit.disabled = true;
  const result = await call("POST", `${linkUrl}/bookings`, body);
  submit.disabled = false;
  if (result.ok) {
    confirmed(result.data);
    return;
  }
  const fields = result.data.fields || {};
  const marked = markFields(fields);
  // A 409 is a time taken meanwhile or a day that filled up: the API says which.
  const gone = `${result.data.error || "That time is no longer available"}. The free times are updated: pick another.`;
  alert.textContent = explain(result, gone);
  if (result.status === 409 || fields.start) {
    await picker.load();
    document.getElementById("picker-heading").focus();
  } else if (!marked) {
    alert.focus();
  }
});
