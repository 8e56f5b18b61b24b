// The booking page: pick a free time (and, where the link allows, how it repeats), give a
// name and an e-mail address, book.

import { call, explain } from "./api.js";
import { showCalendarLinks, withLinks } from "./calendar.js";
import { LOCALE, _, ngettext } from "./messages.js";
import { SlotPicker, describe, names, seatsLeft } from "./slots.js";

const page = document.getElementById("booking");
const part = (name) => page.querySelector(`[data-${name}]`);
const form = part("guest-form");
const alert = part("alert");
const repeat = form.elements.repeat; // only where the link takes series
const FIELDS = ["name", "email", "notes"];
const REQUIRED = { name: _("Enter your name."), email: _("Enter your e-mail address.") };
// Why an occurrence of a series can't be booked, by the API's `conflicts[].reason`.
const REFUSED = {
  busy: _("already taken"),
  away: _("not available (away)"),
  fully_booked: _("fully booked"),
  not_offered: _("not offered at that time"),
  too_soon: _("too soon to book"),
  too_far_ahead: _("too far ahead to book"),
};
const linkUrl = page.dataset.link;

const picker = new SlotPicker(part("slot-picker"), {
  url: `${linkUrl}/slots`,
  onChoose(slot) {
    form.hidden = !slot;
    choiceChanged();
    // A time picked: the form comes next, so it is brought into view (on a phone it starts below
    // the fold) and its first field takes focus, which also reads out the time picked.
    if (slot) {
      form.scrollIntoView({ block: "start" });
      form.elements.name.focus({ preventScroll: true });
    }
  },
});
picker.load();

// The host's location and description, their web addresses as links.
for (const element of page.querySelectorAll("[data-with-links]")) withLinks(element, element.textContent);

// The series asked for ({freq, interval, count}), or null for a single booking.
function recurrence() {
  if (!repeat?.value) return null;
  const [freq, interval] = repeat.value.split(":");
  return { freq, interval: Number(interval), count: Number(form.elements.count.value) };
}

// What the guest has chosen, in words; conflicts shown for an earlier choice no longer hold.
function choiceChanged() {
  const slot = picker.chosen;
  const series = recurrence();
  if (repeat) part("count-field").hidden = !series;
  const when = slot && describe(slot, picker.zone);
  const picked = !slot ? "" : series
    ? ngettext("You picked {when}, {repeats}, once.", "You picked {when}, {repeats}, {count} times.", series.count,
      { when, repeats: repeat.selectedOptions[0].text.toLocaleLowerCase(LOCALE) })
    : _("You picked {when}.", { when });
  const seats = slot?.seats_left == null ? "" : _("{seats}.", { seats: seatsLeft(slot.seats_left) });
  part("chosen").textContent = [picked, seats].join(" ").trim();
  part("conflicts").hidden = true;
}

repeat?.addEventListener("change", choiceChanged);
form.elements.count?.addEventListener("change", choiceChanged);

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
  const body = {
    start: picker.chosen.start, name: value("name"), email: value("email"), timezone: picker.zone,
    language: document.documentElement.lang,
  };
  if (value("notes")) body.notes = value("notes");
  const series = recurrence();
  if (series) body.recurrence = series;
  return body;
}

// A manage link's address, unless it is no web address (a javascript: one, say).
function webAddress(url) {
  const address = new URL(url, location.href);
  return address.protocol === "https:" || address.protocol === "http:" ? address.href : "#";
}

// Fills `list` with an item for each of `conflicts`: when, and why it can't be booked.
function listConflicts(list, conflicts) {
  list.replaceChildren(...conflicts.map((conflict) => {
    const item = document.createElement("li");
    item.textContent = _("{when}: {why}", { when: describe(conflict, picker.zone), why: REFUSED[conflict.reason] || conflict.reason });
    return item;
  }));
}

// What a seat's guest is told of the others at their time: the seats still free now, read
// again from the slot list (others may have booked meanwhile). A time no longer listed is full
// only if the guest took its last seat; else it says nothing.
async function seatsAfter(booking, chosen) {
  const query = new URLSearchParams({ from: booking.start, to: booking.end, timezone: picker.zone });
  const result = await call("GET", `${linkUrl}/slots?${query}`);
  const slot = result.ok && result.data.slots.find((s) => Date.parse(s.start) === Date.parse(booking.start));
  if (slot) {
    return ngettext("You have a seat; 1 other seat is still free at this time.",
      "You have a seat; {count} other seats are still free at this time.", slot.seats_left);
  }
  return chosen.seats_left === 1 ? _("You have the last seat at this time.") : "";
}

// A single booking's answer (`pending`: a request the host has yet to confirm), or a series'
// (every occurrence booked, each with its own manage link, and those skipped).
async function confirmed(data) {
  const series = data.bookings || null;
  const first = series ? series[0] : data.booking;
  const requested = first.status === "pending";
  const seats = !series && picker.chosen?.seats_left != null ? await seatsAfter(first, picker.chosen) : "";
  part("choose").hidden = true;
  part("confirmation-heading").textContent = requested
    ? _("Request sent — waiting for {host} to confirm", { host: first.host.name }) : _("You are booked");
  const what = { title: first.title, hosts: names(first.hosts) };
  part("confirmation-when").textContent = series
    ? ngettext("{title} with {hosts}, on 1 date:", "{title} with {hosts}, on {count} dates:", series.length, what)
    : _("{title} with {hosts}, {when}.", { ...what, when: describe(first, picker.zone) });
  part("seats").textContent = seats;
  part("seats").hidden = !seats;
  part("if-booked").hidden = requested;
  part("if-requested").hidden = !requested;
  part("requested-host").textContent = first.host.name;
  for (const email of page.querySelectorAll("[data-confirmation-email]")) email.textContent = first.guest.email;
  for (const link of page.querySelectorAll("[data-manage-link]")) link.href = webAddress(data.manage_url);
  part("confirmation-where").hidden = !first.location;
  if (first.location) withLinks(part("confirmation-where"), _("Where: {location}", { location: first.location }));
  // A single booking (not a request) for the guest's calendar; a series' dates each have their
  // own manage page, which offers the same.
  const manage = webAddress(data.manage_url);
  if (!series && !requested && manage !== "#") {
    const about = part("description")?.textContent.trim();
    const details = _("To cancel or change the time: {url}", { url: manage });
    showCalendarLinks(part("add-to-calendar"), { ...first, description: about }, details, `${manage}/booking.ics`);
  }
  part("manage-one").hidden = Boolean(series);
  part("manage-each").hidden = !series;
  const dates = part("booked-dates");
  dates.hidden = !series;
  dates.replaceChildren(...(series || []).map((booking) => {
    const link = document.createElement("a");
    link.href = webAddress(booking.manage_url);
    link.textContent = describe(booking, picker.zone);
    const item = document.createElement("li");
    item.append(link);
    return item;
  }));
  const skipped = data.skipped || [];
  part("skipped").hidden = skipped.length === 0;
  listConflicts(part("skipped-dates"), skipped);
  const section = part("confirmation");
  section.classList.toggle("pending", requested);
  section.hidden = false;
  section.focus();
}

// A series some of whose dates can't be booked: each is listed with why, and the others can
// be booked on their own.
function refusedDates(conflicts, count) {
  const free = count - conflicts.length;
  // Counted by the dates refused (for the verb), in English the same either way.
  alert.textContent = free > 0
    ? ngettext("{refused} of the {total} dates can't be booked, so nothing is booked yet. Book the other {free}, or "
      + "pick another time.", "{refused} of the {total} dates can't be booked, so nothing is booked yet. Book the "
      + "other {free}, or pick another time.", conflicts.length, { refused: conflicts.length, total: count, free })
    : _("None of the {count} dates can be booked. Pick another time.", { count });
  listConflicts(part("conflict-dates"), conflicts);
  const bookFree = part("book-free");
  bookFree.hidden = free === 0;
  bookFree.textContent = ngettext("Book the other {count}", "Book the other {count}", free);
  part("conflicts").hidden = false;
  alert.focus();
}

// Books what the form says; `onConflict: "skip"` books a series' free dates without the others.
async function send(control, onConflict) {
  alert.textContent = "";
  part("conflicts").hidden = true;
  const body = guest();
  const missing = Object.fromEntries(Object.entries(REQUIRED).filter(([name]) => !body[name]));
  if (markFields(missing)) return;
  if (onConflict) body.on_conflict = onConflict;
  control.disabled = true;
  const result = await call("POST", `${linkUrl}/bookings`, body);
  if (result.ok) {
    // The control stays disabled while the confirmation is put together, then hidden with the form.
    await confirmed(result.data);
    document.dispatchEvent(new CustomEvent("scheduler:booked", { detail: result.data })); // for embedded.js
    return;
  }
  control.disabled = false;
  const conflicts = result.data.conflicts || [];
  if (conflicts.length) {
    const { count } = body.recurrence;
    // None free: the time picked is taken too, so the free times are reloaded.
    if (conflicts.length === count) await picker.load();
    refusedDates(conflicts, count);
    return;
  }
  const fields = result.data.fields || {};
  const marked = markFields(fields);
  // A 409 is a time taken meanwhile or a day that filled up: the API says which.
  const problem = result.data.error || _("That time is no longer available");
  const gone = _("{problem}. The free times are updated: pick another.", { problem });
  alert.textContent = explain(result, gone);
  if (result.status === 409 || fields.start) {
    await picker.load();
    document.getElementById("picker-heading").focus();
  } else if (!marked) {
    alert.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send(part("submit"));
});

part("book-free").addEventListener("click", (event) => send(event.target, "skip"));
