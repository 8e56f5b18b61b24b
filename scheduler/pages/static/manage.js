// The manage page: the guest's booking, cancelling it, moving it to another free time.
// The token in the page's address is the only credential.

import { call, explain } from "./api.js";
import { SlotPicker, describe, names } from "./slots.js";

const page = document.getElementById("manage");
const part = (name) => page.querySelector(`[data-${name}]`);
const alert = part("alert");
const done = part("done");
const bookingUrl = `/api/v1/guest-bookings/${encodeURIComponent(page.dataset.token)}`;

let shown = null;

const picker = new SlotPicker(part("slot-picker"), {
  url: `${bookingUrl}/slots`,
  // The booking's own time is free for it, but moving there would change nothing.
  omit: (slot) => Date.parse(slot.start) === Date.parse(shown.start),
  onChoose(slot, zone) {
    part("chosen").textContent = slot ? `New time: ${describe(slot, zone)}.` : "";
    part("move").disabled = !slot;
  },
});

function render(booking) {
  shown = booking;
  part("host").textContent = `With ${names(booking.hosts)}`;
  part("title").textContent = booking.title;
  part("when").textContent = describe(booking, picker.zone);
  const inSeries = booking.series_id !== null;
  part("series").hidden = !inSeries;
  part("series").textContent = inSeries ? `Part of a series (occurrence ${booking.occurrence}).` : "";
  part("single").hidden = inSeries;
  for (const button of page.querySelectorAll("[data-in-series]")) button.hidden = !inSeries || !booking.can_change;
  // Once this one is cancelled or past, the later ones of its series can still be cancelled.
  part("cancel-later").hidden = booking.can_change || booking.later === 0;
  part("cancel-later").textContent = `Cancel the ${booking.later === 1 ? "later one" : `${booking.later} later ones`}`;
  part("state").textContent = booking.status === "cancelled" ? "This booking is cancelled."
    : booking.can_change ? `Booked for ${booking.guest.name} (${booking.guest.email}).`
    : "This booking has started or taken place.";
  part("actions").hidden = !booking.can_change && booking.later === 0;
  part("reschedule").hidden = !booking.can_change;
}

// Shows the booking as it is now; offers new times while it can still change.
async function load() {
  const result = await call("GET", bookingUrl);
  if (!result.ok) {
    alert.textContent = explain(result, result.data.error);
    return;
  }
  render(result.data.booking);
  if (result.data.booking.can_change) picker.load();
}

// Sends one change; then shows the booking as it now is, and says `message(answer)` or what failed.
async function change(action, body, control, message) {
  alert.textContent = "";
  done.textContent = "";
  control.disabled = true;
  const result = await call("POST", `${bookingUrl}/${action}`, body);
  control.disabled = false;
  await load();
  if (result.ok) {
    done.textContent = message(result.data);
    part("title").focus();
  } else {
    alert.textContent = explain(result, result.data.error);
    alert.focus();
  }
}

// How many bookings a cancel ended: this one, or (a series' "this and later ones") several, or
// (from one cancelled already) only later ones.
function cancelled({ booking, bookings }) {
  if (bookings[0].occurrence !== booking.occurrence) {
    return bookings.length === 1 ? "The later booking is cancelled." : `${bookings.length} later bookings are cancelled.`;
  }
  return bookings.length === 1 ? "Your booking is cancelled."
    : `${bookings.length} bookings are cancelled: this one and the ${bookings.length - 1} after it.`;
}

part("cancel-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const reason = event.target.elements.reason.value.trim();
  const button = event.submitter;
  change("cancel", { scope: button.value, ...(reason && { reason }) }, button, cancelled);
});

part("move").addEventListener("click", (event) => {
  change("reschedule", { start: picker.chosen.start, timezone: picker.zone }, event.target,
    ({ booking }) => `Your booking is moved to ${describe(booking, picker.zone)}.`);
});

load();
