// The manage page: the guest's booking (or request), cancelling (withdrawing) it, moving it to
// another free time, each while the host's notices allow it. The token in the page's address
// is the only credential.

import { call, explain } from "./api.js";
import { showCalendarLinks, withLinks } from "./calendar.js";
import { SlotPicker, describe, names, shortly } from "./slots.js";

const page = document.getElementById("manage");
const part = (name) => page.querySelector(`[data-${name}]`);
const alert = part("alert");
const done = part("done");
const bookingUrl = `/api/v1/guest-bookings/${encodeURIComponent(page.dataset.token)}`;
const icsUrl = `/manage/${encodeURIComponent(page.dataset.token)}/booking.ics`;
const confirmCancel = part("confirm-cancel");
// The host's notices in words ("1 day"), as the server wrote them into the page.
const notice = { cancel: page.dataset.cancelNotice, reschedule: page.dataset.rescheduleNotice };

let shown = null;

const picker = new SlotPicker(part("slot-picker"), {
  url: `${bookingUrl}/slots`,
  // The booking's own time is free for it, but moving there would change nothing.
  omit: (slot) => Date.parse(slot.start) === Date.parse(shown.start),
  onChoose(slot, zone) {
    part("chosen").textContent = slot ? `New time: ${describe(slot, zone)}.` : "";
    part("move").disabled = !slot;
    // The button that moves it comes next: in view, and next for the keyboard too.
    if (slot) {
      part("move").scrollIntoView({ block: "nearest" });
      part("move").focus({ preventScroll: true });
    }
  },
});

// What the booking is now, in one sentence: booked, a request waiting for the host, declined,
// expired, cancelled or begun.
function state(booking) {
  const host = booking.host.name;
  const guest = `${booking.guest.name} (${booking.guest.email})`;
  const started = booking.why_not.cancel === "started";
  switch (booking.status) {
    case "cancelled": return "This booking is cancelled.";
    case "declined": return `${host} declined this request. You are welcome to book another time.`;
    case "expired": return `This request expired: ${host} did not confirm it in time.`;
    case "pending": return started ? `This request was not confirmed by ${host} before its start.`
      : `Requested for ${guest}: waiting for ${host} to confirm.`;
    default: return started ? "This booking has started or taken place." : `Booked for ${guest}.`;
  }
}

// "1 day" -> "1 day's notice", "2 hours" -> "2 hours' notice".
function noticeOf(action) {
  return `${notice[action]}${notice[action].endsWith("s") ? "'" : "'s"} notice`;
}

// Until when the guest can cancel and move the booking here (where the host's notices limit it),
// or why they no longer can, by the manage answer's why_not. That a booking is over (cancelled,
// declined, expired, started) is the state's to say, and not repeated here.
function changes(booking) {
  const host = booking.host.name;
  const { cancel, reschedule } = booking.why_not;
  const until = (action) => shortly(booking[`${action}_until`], picker.zone);
  const limited = (action) => Date.parse(booking[`${action}_until`]) < Date.parse(booking.start);
  const [cancelling, doing] = booking.status === "pending" ? ["Withdrawing", "withdraw it"] : ["Cancelling", "cancel"];
  const lines = [];
  if (cancel === "notice") {
    lines.push(`${cancelling} online closed on ${until("cancel")}: ${host} asks for ${noticeOf("cancel")}. `
      + `To ${doing} now, contact ${host}.`);
  } else if (booking.can_cancel && limited("cancel")) {
    lines.push(`You can ${doing} here until ${until("cancel")}.`);
  }
  if (reschedule === "notice") {
    lines.push(`Moving it online closed on ${until("reschedule")}: ${host} asks for ${noticeOf("reschedule")}.`);
  } else if (reschedule === "seat") {
    lines.push("A seat can't be moved: cancel it and book another time.");
  } else if (reschedule === "pending") {
    lines.push(`A request can be rescheduled once ${host} confirms it.`);
  } else if (booking.can_reschedule && limited("reschedule")) {
    lines.push(`You can move it to another time here until ${until("reschedule")}.`);
  }
  return lines;
}

function render(booking) {
  shown = booking;
  part("host").textContent = `With ${names(booking.hosts)}`;
  part("title").textContent = booking.title;
  part("when").textContent = describe(booking, picker.zone);
  const inSeries = booking.series_id !== null;
  const requested = booking.status === "pending";
  part("series").hidden = !inSeries;
  part("series").textContent = inSeries ? `Part of a series (occurrence ${booking.occurrence}).` : "";
  part("state").textContent = state(booking);
  part("where").hidden = !booking.location;
  if (booking.location) withLinks(part("where"), `Where: ${booking.location}`);
  // A booking to come can go into the guest's calendar; one that is over can be booked again.
  const over = booking.status !== "confirmed" && booking.status !== "pending" || booking.why_not.cancel === "started";
  if (booking.status === "confirmed" && !over) {
    showCalendarLinks(part("add-to-calendar"), booking, `To cancel or change the time: ${location.href}`,
      icsUrl);
  } else {
    part("add-to-calendar").hidden = true;
  }
  if (part("book-again")) part("book-again").hidden = !over;
  const lines = changes(booking).map((line) => Object.assign(document.createElement("li"), { textContent: line }));
  part("why-not").replaceChildren(...lines);
  part("why-not").hidden = lines.length === 0;
  // A request is withdrawn rather than cancelled; an occurrence of a series has two choices.
  part("cancel-heading").textContent = requested ? "Withdraw the request" : "Cancel";
  part("single").textContent = requested ? "Withdraw request" : "Cancel booking";
  part("single").hidden = inSeries || !booking.can_cancel;
  for (const button of page.querySelectorAll("[data-in-series]")) button.hidden = !inSeries || !booking.can_cancel;
  // Once this one can't be cancelled (cancelled, past, inside the notice), the later ones of its
  // series still can.
  part("cancel-later").hidden = booking.can_cancel || booking.later === 0;
  part("cancel-later").textContent = `Cancel the ${booking.later === 1 ? "later one" : `${booking.later} later ones`}`;
  part("cancel-form").hidden = !booking.can_cancel && booking.later === 0;
  part("reschedule").hidden = !booking.can_reschedule;
  part("actions").hidden = !booking.can_cancel && !booking.can_reschedule && booking.later === 0;
}

// Shows the booking as it is now; offers new times while it can still change.
async function load() {
  const result = await call("GET", bookingUrl);
  if (!result.ok) {
    alert.textContent = explain(result, result.data.error);
    return;
  }
  render(result.data.booking);
  if (result.data.booking.can_reschedule) picker.load();
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

// What a cancel button would end, asked before it does: the booking, a request, or dates of a series.
function question(button) {
  const when = describe(shown, picker.zone);
  if (shown.status === "pending") return ["Withdraw your request?", `Your request for ${when} will be withdrawn.`];
  if (button.hasAttribute("data-cancel-later")) {
    const later = shown.later === 1 ? "the later booking" : `the ${shown.later} later bookings`;
    return [`Cancel ${later}?`, `All ${later} of this series will be cancelled.`];
  }
  if (button.value === "following") {
    return ["Cancel this and later bookings?", `This booking (${when}) and the later ones of its series will be cancelled.`];
  }
  return ["Cancel this booking?", `Your booking for ${when} will be cancelled.`];
}

let asked = null; // the cancel button the open dialog asks about

part("cancel-form").addEventListener("submit", (event) => {
  event.preventDefault();
  asked = event.submitter;
  const [heading, text] = question(asked);
  const withdraw = shown.status === "pending";
  part("confirm-heading").textContent = heading;
  part("confirm-text").textContent = `${text} ${names(shown.hosts)} will be told. This can't be undone.`;
  part("confirm-yes").textContent = withdraw ? "Yes, withdraw" : "Yes, cancel";
  part("confirm-no").textContent = withdraw ? "No, keep my request" : "No, keep it";
  confirmCancel.returnValue = "";
  confirmCancel.showModal();
});

// Closed: by "Yes", the cancel goes ahead; by "No" or Escape nothing happens, and focus goes
// back to the button that asked.
confirmCancel.addEventListener("close", () => {
  const button = asked;
  asked = null;
  if (confirmCancel.returnValue !== "confirm") {
    button.focus();
    return;
  }
  const reason = part("cancel-form").elements.reason.value.trim();
  const withdrawn = shown.status === "pending";
  change("cancel", { scope: button.value, ...(reason && { reason }) }, button,
    withdrawn ? () => "Your request is withdrawn." : cancelled);
});

part("move").addEventListener("click", (event) => {
  change("reschedule", { start: picker.chosen.start, timezone: picker.zone }, event.target,
    ({ booking }) => `Your booking is moved to ${describe(booking, picker.zone)}.`);
});

load();
