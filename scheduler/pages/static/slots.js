// The day and time picker of the booking and manage pages: free times from a public slots
// route, shown in the guest's time zone (the browser's, changeable).

import { call, explain } from "./api.js";

const WINDOW_DAYS = 14;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_PAGES = 27; // booking windows are at most 365 days

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function zoneNames(current) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([...known, current, "UTC"])].sort();
}

function formatter(zone, options) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options });
}

export function describe(slot, zone) {
  const day = formatter(zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const time = formatter(zone, { hour: "numeric", minute: "2-digit" });
  const start = new Date(slot.start);
  return `${day.format(start)}, ${time.format(start)} – ${time.format(new Date(slot.end))} (${zone})`;
}

function text(tag, content) {
  const element = document.createElement(tag);
  element.textContent = content;
  return element;
}

// A toggle button whose lines are `lines` (the last one smaller when `note` is given).
function button(lines, onClick, note) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "choice";
  element.setAttribute("aria-pressed", "false");
  element.addEventListener("click", onClick);
  element.append(...lines.map((line) => text("span", line)));
  if (note) element.append(text("small", note));
  return element;
}

function press(container, pressed) {
  for (const element of container.children) element.setAttribute("aria-pressed", String(element === pressed));
}

export class SlotPicker {
  // `url`: the public route that lists the free times (`from`, `to`, `timezone` are added);
  // `omit(slot)`: true for a time not to offer.
  constructor(root, { url, onChoose, omit = () => false }) {
    this.root = root;
    this.url = url;
    this.omit = omit;
    this.onChoose = onChoose;
    this.zone = browserZone();
    this.now = new Date();
    this.page = 0;
    this.loads = 0;
    this.days = new Map();
    this.day = null;
    this.part = (name) => root.querySelector(`[data-${name}]`);

    const select = this.part("zone");
    for (const name of zoneNames(this.zone)) select.append(new Option(name, name, false, name === this.zone));
    select.addEventListener("change", () => {
      this.zone = select.value;
      this.day = null;
      this.load();
    });
    this.part("earlier").addEventListener("click", () => this.turn(-1));
    this.part("later").addEventListener("click", () => this.turn(1));
  }

  turn(pages) {
    this.page = Math.min(MAX_PAGES - 1, Math.max(0, this.page + pages));
    this.day = null;
    this.load();
  }

  // Loads the current window's free times, keeping the chosen day when it still has some.
  async load() {
    const load = ++this.loads;
    const from = new Date(this.now.getTime() + this.page * WINDOW_DAYS * DAY_MS);
    const to = new Date(from.getTime() + WINDOW_DAYS * DAY_MS);
    this.choose(null);
    this.status("Loading free times…");
    const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), timezone: this.zone });
    const result = await call("GET", `${this.url}?${query}`);
    if (load !== this.loads) return; // a newer load (another zone or window) has started
    const dayKey = formatter(this.zone, { year: "numeric", month: "2-digit", day: "2-digit" });
    this.days = new Map();
    const slots = result.ok ? result.data.slots.filter((slot) => !this.omit(slot)) : [];
    for (const slot of slots) {
      const key = dayKey.format(new Date(slot.start));
      if (!this.days.has(key)) this.days.set(key, []);
      this.days.get(key).push(slot);
    }
    const range = formatter(this.zone, { day: "numeric", month: "short" });
    const label = `${range.format(from)} – ${range.format(new Date(to.getTime() - 1))}`;
    this.part("range-label").textContent = label;
    this.part("earlier").disabled = this.page === 0;
    this.part("later").disabled = this.page === MAX_PAGES - 1;
    if (!result.ok) {
      this.status(explain(result, result.data.error || "Free times could not be loaded."));
    } else if (this.days.size === 0) {
      this.status(`No free times between ${label}. Try later dates.`);
    } else {
      this.status(`${slots.length} free times on ${this.days.size} days between ${label}.`);
    }
    this.renderDays();
  }

  status(text) {
    this.part("slots-status").textContent = text;
  }

  renderDays() {
    const container = this.part("days");
    const weekday = formatter(this.zone, { weekday: "short" });
    const date = formatter(this.zone, { day: "numeric", month: "short" });
    container.replaceChildren();
    if (!this.days.has(this.day)) this.day = this.days.keys().next().value ?? null;
    for (const [key, slots] of this.days) {
      const first = new Date(slots[0].start);
      const element = button([weekday.format(first), date.format(first)], () => {
        this.day = key;
        press(container, element);
        this.renderTimes();
      }, `${slots.length} free`);
      element.dataset.day = key;
      container.append(element);
      if (key === this.day) element.setAttribute("aria-pressed", "true");
    }
    this.root.querySelector(".days").hidden = this.days.size === 0;
    this.renderTimes();
  }

  renderTimes() {
    const container = this.part("times");
    const slots = this.days.get(this.day) || [];
    const time = formatter(this.zone, { hour: "numeric", minute: "2-digit" });
    container.replaceChildren();
    this.choose(null);
    for (const slot of slots) {
      const element = button([time.format(new Date(slot.start))], () => {
        press(container, element);
        this.choose(slot);
      });
      element.dataset.start = slot.start;
      container.append(element);
    }
    this.root.querySelector(".times").hidden = slots.length === 0;
    if (slots.length) {
      const day = formatter(this.zone, { weekday: "long", day: "numeric", month: "long" });
      this.part("times-legend").textContent = `Times on ${day.format(new Date(slots[0].start))} (${this.zone})`;
    }
  }

  choose(slot) {
    this.chosen = slot;
    this.onChoose(slot, this.zone);
  }
}
