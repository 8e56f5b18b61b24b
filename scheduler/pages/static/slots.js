// The day and time picker of the booking and manage pages: free times from a public slots
// route, shown in the guest's time zone (the browser's, changeable), and the days without
// any, with why.

import { call, explain } from "./api.js";
import { LOCALE, _, list, ngettext } from "./messages.js";
import { ZonePicker } from "./zones.js";

const WINDOW_DAYS = 14;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_PAGES = 27; // booking windows are at most 365 days
// What a guest reads on a day without free times, by the slot list's `days[].reason`. Days
// without working hours are left out: every weekend in the strip would bury the days that count.
const UNAVAILABLE = {
  closed: _("Closed"),
  time_off: _("Away"),
  too_soon: _("Not yet bookable"),
  too_far_ahead: _("Too far ahead"),
  fully_booked: _("Fully booked"),
  no_free_time: _("No free times"),
};

function formatter(zone, options) {
  return new Intl.DateTimeFormat(LOCALE, { timeZone: zone, ...options });
}

// The local date of a moment in `zone` as the API writes dates (YYYY-MM-DD), whatever the
// browser's locale and digits.
function dateIn(zone) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
  return (moment) => {
    const { year, month, day } = Object.fromEntries(parts.formatToParts(moment).map((part) => [part.type, part.value]));
    return `${year}-${month}-${day}`;
  };
}

// A moment, shortly: "Tue, Dec 15, 10:00 AM" (in the page's locale), in `zone`.
export function shortly(moment, zone) {
  return formatter(zone, { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" })
    .format(new Date(moment));
}

// A seated type's free seats at a start, by the slot list's `seats_left`.
export function seatsLeft(count) {
  return ngettext("1 seat left", "{count} seats left", count);
}

export function describe(slot, zone) {
  const day = formatter(zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const time = formatter(zone, { hour: "numeric", minute: "2-digit" });
  const start = new Date(slot.start);
  return _("{day}, {start} – {end} ({zone})", {
    day: day.format(start), start: time.format(start), end: time.format(new Date(slot.end)), zone,
  });
}

function text(tag, content) {
  const element = document.createElement(tag);
  element.textContent = content;
  return element;
}

// A button whose lines are `lines` (the last one smaller when `note` is given): a toggle that
// calls `onClick`, or without it one that can't be chosen. That one is aria-disabled rather
// than disabled so it stays in the Tab order, and keyboard and screen reader users hear why.
function button(lines, onClick, note) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "choice";
  if (onClick) {
    element.setAttribute("aria-pressed", "false");
    element.addEventListener("click", onClick);
  } else {
    element.setAttribute("aria-disabled", "true");
  }
  element.append(...lines.map((line) => text("span", line)));
  if (note) element.append(text("small", note));
  return element;
}

function press(container, pressed) {
  for (const element of container.querySelectorAll("[aria-pressed]")) {
    element.setAttribute("aria-pressed", String(element === pressed));
  }
}

// People's names as a sentence has them: "Ann", "Ann and Ben", "Ann, Ben and Cat".
export function names(people) {
  return list(people.map((person) => person.name));
}

export class SlotPicker {
  // `url`: the public route that lists the free times (`from`, `to`, `timezone` are added);
  // `omit(slot)`: true for a time not to offer.
  constructor(root, { url, onChoose, omit = () => false }) {
    this.root = root;
    this.url = url;
    this.omit = omit;
    this.onChoose = onChoose;
    this.now = new Date();
    this.page = 0;
    this.loads = 0;
    this.days = new Map();
    this.unavailable = new Map();
    this.day = null;
    this.part = (name) => root.querySelector(`[data-${name}]`);

    // Offsets are given for the chosen day (else today's).
    this.zone = new ZonePicker(this.part("zone-picker"), {
      day: () => (this.day ? new Date(`${this.day}T12:00:00Z`) : new Date()),
      onChange: (zone) => {
        this.zone = zone;
        this.day = null;
        this.load();
      },
    }).zone;
    this.part("earlier").addEventListener("click", () => this.turn(-1));
    this.part("later").addEventListener("click", () => this.turn(1));
  }

  turn(pages) {
    this.page = Math.min(MAX_PAGES - 1, Math.max(0, this.page + pages));
    this.day = null;
    this.load();
  }

  // Loads the current window's free times and the days without any, keeping the chosen day
  // when it still has some.
  async load() {
    const load = ++this.loads;
    const from = new Date(this.now.getTime() + this.page * WINDOW_DAYS * DAY_MS);
    const to = new Date(from.getTime() + WINDOW_DAYS * DAY_MS);
    this.choose(null);
    this.status(_("Loading free times…"));
    const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), timezone: this.zone });
    const result = await call("GET", `${this.url}?${query}`);
    if (load !== this.loads) return; // a newer load (another zone or window) has started
    const dateOf = dateIn(this.zone);
    this.days = new Map();
    const slots = result.ok ? result.data.slots.filter((slot) => !this.omit(slot)) : [];
    for (const slot of slots) {
      const key = dateOf(new Date(slot.start));
      if (!this.days.has(key)) this.days.set(key, []);
      this.days.get(key).push(slot);
    }
    const days = result.ok ? result.data.days.filter((day) => day.reason in UNAVAILABLE) : [];
    this.unavailable = new Map(days.map((day) => [day.date, UNAVAILABLE[day.reason]]));
    const range = formatter(this.zone, { day: "numeric", month: "short" });
    const label = range.formatRange(from, new Date(to.getTime() - 1)); // "Dec 5 – 19", "6.–20. Dez."
    this.part("range-label").textContent = label;
    this.part("earlier").disabled = this.page === 0;
    // A day too far ahead means the booking window ends in this range: every later date is
    // too far ahead as well, so there is nothing later to show.
    const windowEnds = result.ok && result.data.days.some((day) => day.reason === "too_far_ahead");
    this.part("later").disabled = this.page === MAX_PAGES - 1 || windowEnds;
    const beyond = windowEnds ? _("Bookings can't be made further ahead.") : "";
    if (!result.ok) {
      this.status(explain(result, result.data.error || _("Free times could not be loaded.")));
    } else if (this.days.size === 0) {
      this.status([_("No free times between {range}.", { range: label }), beyond || _("Try later dates.")].join(" "));
    } else {
      const found = ngettext("1 free time", "{count} free times", slots.length);
      const days = ngettext("on 1 day", "on {count} days", this.days.size);
      this.status([_("{times} {days} between {range}.", { times: found, days, range: label }), beyond].join(" ").trim());
    }
    this.renderDays();
  }

  status(text) {
    this.part("slots-status").textContent = text;
  }

  // The days with free times and those without, in date order; only the former can be chosen.
  renderDays() {
    const container = this.part("days");
    // A day's own date is the same date at noon UTC, so these format the key itself.
    const weekday = formatter("UTC", { weekday: "short" });
    const date = formatter("UTC", { day: "numeric", month: "short" });
    container.replaceChildren();
    if (!this.days.has(this.day)) this.day = this.days.keys().next().value ?? null;
    const keys = [...this.days.keys(), ...this.unavailable.keys()].sort(); // no date is in both
    for (const key of keys) {
      const noon = new Date(`${key}T12:00:00Z`);
      const lines = [weekday.format(noon), date.format(noon)];
      const slots = this.days.get(key);
      const element = slots
        ? button(lines, () => {
          this.day = key;
          press(container, element);
          this.renderTimes();
        }, ngettext("1 free", "{count} free", slots.length))
        : button(lines, null, this.unavailable.get(key));
      element.dataset.day = key;
      container.append(element);
      if (key === this.day) element.setAttribute("aria-pressed", "true");
    }
    this.root.querySelector(".days").hidden = keys.length === 0;
    this.renderTimes();
  }

  renderTimes() {
    const container = this.part("times");
    const slots = this.days.get(this.day) || [];
    const time = formatter(this.zone, { hour: "numeric", minute: "2-digit" });
    container.replaceChildren();
    this.choose(null);
    for (const slot of slots) {
      // A seated type's times say how many seats are left, read with the time.
      const seats = slot.seats_left == null ? undefined : seatsLeft(slot.seats_left);
      const element = button([time.format(new Date(slot.start))], () => {
        press(container, element);
        this.choose(slot);
      }, seats);
      element.dataset.start = slot.start;
      container.append(element);
    }
    this.root.querySelector(".times").hidden = slots.length === 0;
    if (slots.length) {
      const day = formatter(this.zone, { weekday: "long", day: "numeric", month: "long" });
      this.part("times-legend").textContent = _("Times on {day} ({zone})", {
        day: day.format(new Date(slots[0].start)), zone: this.zone,
      });
    }
  }

  choose(slot) {
    this.chosen = slot;
    this.onChoose(slot, this.zone);
  }
}
