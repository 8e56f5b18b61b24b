// The manage page: the guest's booking (or request), cancelling (withdrawing) it, moving it to
// another free time, each while the host's notices allow it. The token in the page's address
// is the only credential.

import { call, explain } from "./api.js";
import { showCalendarLinks, withLinks } from "./calendar.js";
import { _, ngettext } from "./messages.js";
import { SlotPicker, describe, names, shortly } from "./slots.js";

const page = document.getElementById("manage");
const part = (name) => page.querySelector(`[data-${name}]`);
const alert = part("alert");
const done = part("done");
const bookingUrl = `/api/v1/guest-bookings/${encodeURIComponent(page.dataset.token)}`;
const icsUrl = `/manage/${encodeURIComponent(page.dataset.token)}/booking.ics`;
const confirmCancel = part("confirm-cancel");
// The host's notices in words ("1 day"), as the server wrote them into the page, in its language.
const notice = { cancel: page.dataset.cancelNotice, reschedule: page.dataset.rescheduleNotice };

let shown = null;

const picker = new SlotPicker(part("slot-picker"), {
  url: `${bookingUrl}/slots`,
  // The booking's own time is free for it, but moving there would change nothing.
  omit: (slot) => Date.parse(slot.start) === Date.parse(shown.start),
  onChoose(slot, zone) {
    part("chosen").textContent = slot ? _("New time: {when}.", { when: describe(slot, zone) }) : "";
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
  const who = { host: booking.host.name, guest: booking.guest.name, email: booking.guest.email };
  const started = booking.why_not.cancel === "started";
  switch (booking.status) {
    case "cancelled": return _("This booking is cancelled.");
    case "declined": return _("{host} declined this request. You are welcome to book another time.", who);
    case "expired": return _("This request expired: {host} did not confirm it in time.", who);
    case "pending": return started ? _("This request was not confirmed by {host} before its start.", who)
      : _("Requested for {guest} ({email}): waiting for {host} to confirm.", who);
    default: return started ? _("This booking has started or taken place.") : _("Booked for {guest} ({email}).", who);
  }
}


// Until when the guest can cancel and move the booking here (where the host's notices limit it),
// or why they no longer can, by the manage answer's why_not. That a booking is over (cancelled,
// declined, expired, started) is the state's to say, and not repeated here.
function changes(booking) {
  const { cancel, reschedule } = booking.why_not;
  const limited = (action) => Date.parse(booking[`${action}_until`]) < Date.parse(booking.start);
  const words = (action) => ({
    host: booking.host.name, until: shortly(booking[`${action}_until`], picker.zone), notice: notice[action],
  });
  const request = booking.status === "pending";
  const lines = [];
  if (cancel === "notice") {
    lines.push(request
      ? _("Withdrawing online closed on {until}: {host} asks for {notice}. To withdraw it now, contact {host}.",
        words("cancel"))
      : _("Cancelling online closed on {until}: {host} asks for {notice}. To cancel now, contact {host}.",
        words("cancel")));
  } else if (booking.can_cancel && limited("cancel")) {
    lines.push(request ? _("You can withdraw it here until {until}.", words("cancel"))
      : _("You can cancel here until {until}.", words("cancel")));
  }
  if (reschedule === "notice") {
    lines.push(_("Moving it online closed on {until}: {host} asks for {notice}.", words("reschedule")));
  } else if (reschedule === "seat") {
    lines.push(_("A seat can't be moved: cancel it and book another time."));
  } else if (reschedule === "pending") {
    lines.push(_("A request can be rescheduled once {host} confirms it.", words("reschedule")));
  } else if (booking.can_reschedule && limited("reschedule")) {
    lines.push(_("You can move it to another time here until {until}.", words("reschedule")));
  }
  return lines;
}

function render(booking) {
  shown = booking;
  part("host").textContent = _("With {hosts}", { hosts: names(booking.hosts) });
  part("title").textContent = booking.title;
  part("when").textContent = describe(booking, picker.zone);
  const inSeries = booking.series_id !== null;
  const requested = booking.status === "pending";
  part("series").hidden = !inSeries;
  part("series").textContent = inSeries ? _("Part of a series (occurrence {number}).", { number: booking.occurrence })
    : "";
  part("state").textContent = state(booking);
  part("where").hidden = !booking.location;
  if (booking.location) withLinks(part("where"), _("Where: {location}", { location: booking.location }));
  // A booking to come can go into the guest's calendar; one that is over can be booked again.
  const over = booking.status !== "confirmed" && booking.status !== "pending" || booking.why_not.cancel === "started";
  if (booking.status === "confirmed" && !over) {
    showCalendarLinks(part("add-to-calendar"), booking, _("To cancel or change the time: {url}", { url: location.href }),
      icsUrl);
  } else {
    part("add-to-calendar").hidden = true;
  }
  if (part("book-again")) part("book-again").hidden = !over;
  const lines = changes(booking).map((line) => Object.assign(document.createElement("li"), { textContent: line }));
  part("why-not").replaceChildren(...lines);
  part("why-not").hidden = lines.length === 0;
  // A request is withdrawn rather than cancelled; an occurrence of a series has two choices.
  part("cancel-heading").textContent = requested ? _("Withdraw the request") : _("Cancel");
  part("single").textContent = requested ? _("Withdraw request") : _("Cancel booking");
  part("single").hidden = inSeries || !booking.can_cancel;
  for (const button of page.querySelectorAll("[data-in-series]")) button.hidden = !inSeries || !booking.can_cancel;
  // Once this one can't be cancelled (cancelled, past, inside the notice), the later ones of its
  // series still can.
  part("cancel-later").hidden = booking.can_cancel || booking.later === 0;
  part("cancel-later").textContent = ngettext("Cancel the later one", "Cancel the {count} later ones", booking.later);
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
    return ngettext("The later booking is cancelled.", "{count} later bookings are cancelled.", bookings.length);
  }
  return bookings.length === 1 ? _("Your booking is cancelled.")
    : ngettext("{all} bookings are cancelled: this one and the {count} after it.",
      "{all} bookings are cancelled: this one and the {count} after it.", bookings.length - 1, { all: bookings.length });
}

// What a cancel button would end, asked before it does: the booking, a request, or dates of a series.
function question(button) {
  const when = describe(shown, picker.zone);
  if (shown.status === "pending") return [_("Withdraw your request?"), _("Your request for {when} will be withdrawn.", { when })];
  if (button.hasAttribute("data-cancel-later")) {
    return [ngettext("Cancel the later booking?", "Cancel the {count} later bookings?", shown.later),
      ngettext("The later booking of this series will be cancelled.",
        "All the {count} later bookings of this series will be cancelled.", shown.later)];
  }
  if (button.value === "following") {
    return [_("Cancel this and later bookings?"),
      _("This booking ({when}) and the later ones of its series will be cancelled.", { when })];
  }
  return [_("Cancel this booking?"), _("Your booking for {when} will be cancelled.", { when })];
}

let asked = null; // the cancel button the open dialog asks about

part("cancel-form").addEventListener("submit", (event) => {
  event.preventDefault();
  asked = event.submitter;
  const [heading, text] = question(asked);
  const withdraw = shown.status === "pending";
  part("confirm-heading").textContent = heading;
  part("confirm-text").textContent = [text, _("{hosts} will be told. This can't be undone.", { hosts: names(shown.hosts) })]
    .join(" ");
  part("confirm-yes").textContent = withdraw ? _("Yes, withdraw") : _("Yes, cancel");
  part("confirm-no").textContent = withdraw ? _("No, keep my request") : _("No, keep it");
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
    withdrawn ? () => _("Your request is withdrawn.") : cancelled);
});

part("move").addEventListener("click", (event) => {
  change("reschedule", { start: picker.chosen.start, timezone: picker.zone }, event.target,
    ({ booking }) => _("Your booking is moved to {when}.", { when: describe(booking, picker.zone) }));
});

load();
