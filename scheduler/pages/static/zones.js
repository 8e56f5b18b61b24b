// The time-zone picker of the booking and manage pages: a combobox (ARIA 1.2: a text input
// that filters a listbox, the active option named by aria-activedescendant) over every IANA
// zone the browser knows, each with its UTC offset on the shown day and its time now. The
// browser's zone comes first, then common ones, then the rest; typing narrows the list. The
// choice is kept for the visit (sessionStorage: this tab, across reloads).

import { LOCALE, _ } from "./messages.js";

const REMEMBERED = "scheduler.zone";
// Zones many guests are in, one or two per region, west to east.
const COMMON = [
  "UTC", "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "America/Sao_Paulo",
  "Europe/London", "Europe/Paris", "Europe/Berlin", "Africa/Lagos", "Africa/Johannesburg", "Europe/Moscow",
  "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
  "Pacific/Auckland",
];
const TICK_MS = 30 * 1000; // how often the times shown move on

export function browserZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone && isZone(zone) ? zone : "UTC";
}

function isZone(name) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// sessionStorage may be refused (a sandboxed frame, storage blocked): then nothing is kept.
function remembered() {
  try {
    return sessionStorage.getItem(REMEMBERED);
  } catch {
    return null;
  }
}

function remember(zone) {
  try {
    sessionStorage.setItem(REMEMBERED, zone);
  } catch {
    // not kept: the browser's zone again next time
  }
}

// Every zone in the order a guest looks for theirs: the browser's, common ones, the rest.
function zoneNames(first) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const common = COMMON.filter(isZone);
  return [...new Set([first, ...common, ...[...known].sort()])];
}

// Each zone's formatters, made once (there are some 420 zones).
const formatters = new Map();

function formattersOf(zone) {
  if (!formatters.has(zone)) {
    formatters.set(zone, {
      offset: new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "shortOffset" }),
      time: new Intl.DateTimeFormat(LOCALE, { timeZone: zone, hour: "numeric", minute: "2-digit" }),
    });
  }
  return formatters.get(zone);
}

// "UTC+01:00", "UTC-03:30", "UTC+00:00": `zone`'s offset at `moment`.
export function offsetOf(zone, moment) {
  const name = formattersOf(zone).offset.formatToParts(moment).find((part) => part.type === "timeZoneName");
  const found = /([+\-\u2212])(\d{1,2})(?::?(\d{2}))?/.exec(name ? name.value : "");
  if (!found) return "UTC+00:00"; // "GMT"
  const sign = found[1] === "+" ? "+" : "-";
  return `UTC${sign}${found[2].padStart(2, "0")}:${found[3] || "00"}`;
}

// "(UTC+01:00, 14:05)": the offset on the shown day, and the time there now.
function aside(zone, day, now) {
  return `(${offsetOf(zone, day)}, ${formattersOf(zone).time.format(now)})`;
}

// What typing matches: the name with its underscores as spaces ("new york"), and the offset.
function matcher(query) {
  const words = query.toLowerCase().replaceAll("_", " ").split(/\s+/).filter(Boolean);
  return (zone, label) => {
    const text = `${zone.replaceAll("_", " ")} ${label}`.toLowerCase();
    return words.every((word) => text.includes(word));
  };
}

export class ZonePicker {
  // `root`: the element holding [data-zone] (the input), [data-zone-options] (the listbox)
  // and [data-zone-now] (the chosen zone's offset and time). `onChange(zone)`: another zone
  // was chosen. `day()`: the day shown, whose offsets are given (DST makes them differ).
  constructor(root, { onChange, day = () => new Date() }) {
    this.input = root.querySelector("[data-zone]");
    this.list = root.querySelector("[data-zone-options]");
    this.now = root.querySelector("[data-zone-now]");
    this.onChange = onChange;
    this.day = day;
    const kept = remembered();
    this.zone = kept && isZone(kept) ? kept : browserZone();
    this.names = zoneNames(browserZone());
    if (!this.names.includes(this.zone)) this.names.push(this.zone);
    this.shown = [];
    this.active = -1;

    this.input.value = this.zone;
    // Focus or a click selects the name, so that typing replaces it with a search.
    this.input.addEventListener("focus", () => this.input.select());
    this.input.addEventListener("click", () => {
      if (!this.list.hidden) return;
      this.input.select();
      this.open("");
    });
    this.input.addEventListener("input", () => this.open(this.input.value));
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("blur", () => this.close());
    // Choosing with the pointer keeps the focus in the input (no blur before the click).
    this.list.addEventListener("mousedown", (event) => event.preventDefault());
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option && option.dataset.value) this.choose(option.dataset.value);
    });
    this.tell();
    setInterval(() => this.tell(), TICK_MS);
  }

  // The chosen zone's offset on the shown day and its time now, beside the input.
  tell() {
    const now = new Date();
    this.now.textContent = _("{offset}, now {time}", {
      offset: offsetOf(this.zone, this.day()), time: formattersOf(this.zone).time.format(now),
    });
  }

  // Shows the zones that match `query` (all for ""), the first one active.
  open(query) {
    const day = this.day();
    const now = new Date();
    const matches = matcher(query);
    this.shown = [];
    const options = [];
    for (const zone of this.names) {
      const label = aside(zone, day, now);
      if (!matches(zone, label)) continue;
      const option = document.createElement("li");
      option.id = `zone-option-${this.shown.length}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.value = zone;
      const name = document.createElement("span");
      name.textContent = zone;
      const small = document.createElement("small");
      small.textContent = label;
      option.append(name, " ", small);
      options.push(option);
      this.shown.push(zone);
    }
    if (!options.length) {
      const none = document.createElement("li");
      none.setAttribute("role", "option");
      none.setAttribute("aria-disabled", "true");
      none.className = "none";
      none.textContent = _("No time zone matches");
      options.push(none);
    }
    this.list.replaceChildren(...options);
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.activate(query && this.shown.length ? 0 : this.shown.indexOf(this.zone));
  }

  close() {
    this.list.hidden = true;
    this.list.replaceChildren();
    this.shown = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.input.value = this.zone;
  }

  activate(index) {
    const options = this.list.querySelectorAll("[role=option][data-value]");
    if (this.active >= 0 && options[this.active]) options[this.active].setAttribute("aria-selected", "false");
    this.active = index;
    const option = options[index];
    if (!option) {
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    option.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  key(event) {
    const open = !this.list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) return this.open("");
      const step = event.key === "ArrowDown" ? 1 : -1;
      const last = this.shown.length - 1;
      this.activate(Math.min(last, Math.max(0, this.active + step)));
    } else if (event.key === "Enter" && open) {
      event.preventDefault();
      if (this.shown[this.active]) this.choose(this.shown[this.active]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      this.close();
      this.input.select();
    }
  }

  choose(zone) {
    const changed = zone !== this.zone;
    this.zone = zone;
    remember(zone);
    this.close();
    this.tell();
    if (changed) this.onChange(zone);
  }
}
