// What the booking and manage pages offer around a booking: the host's text with its web
// addresses as links, and the booking for the guest's own calendar (Google, Outlook, .ics).

// A web address in running text; the punctuation that usually ends a sentence is not part of it.
const ADDRESS = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

// The address `text` names, if it is an http or https one (never javascript:, data: and the like).
function webAddress(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// Puts `text` into `element` as text, its http(s) addresses as links that open apart from this
// page (rel noopener noreferrer). DOM nodes only: nothing in `text` is ever read as markup.
export function withLinks(element, text) {
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const address = match[0].replace(TRAILING, "");
    const href = webAddress(address);
    if (!href) continue;
    nodes.push(document.createTextNode(text.slice(from, match.index)));
    const link = document.createElement("a");
    link.href = href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = address;
    nodes.push(link);
    from = match.index + address.length;
  }
  nodes.push(document.createTextNode(text.slice(from)));
  element.replaceChildren(...nodes);
}

// A moment as Google Calendar's `dates` take it: 20250301T100000Z.
function googleTime(moment) {
  return new Date(moment).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// Links to add `booking` ({title, start, end, location, description}) to Google Calendar and
// Outlook, described by its type's description (if any) and then `details`, and to download it
// as an .ics file (`ics`).
export function calendarLinks(booking, details, ics) {
  const body = booking.description ? `${booking.description}\n\n${details}` : details;
  const google = new URL("https://calendar.google.com/calendar/render");
  google.search = new URLSearchParams({
    action: "TEMPLATE", text: booking.title, dates: `${googleTime(booking.start)}/${googleTime(booking.end)}`,
    details: body, location: booking.location || "",
  });
  const outlook = new URL("https://outlook.live.com/calendar/0/deeplink/compose");
  outlook.search = new URLSearchParams({
    subject: booking.title, startdt: new Date(booking.start).toISOString(),
    enddt: new Date(booking.end).toISOString(), body, location: booking.location || "",
  });
  return { google: google.href, outlook: outlook.href, ics };
}

// Fills the add-to-calendar links under `root` ([data-google], [data-outlook], [data-ics]).
export function showCalendarLinks(root, booking, details, ics) {
  const links = calendarLinks(booking, details, ics);
  for (const name of ["google", "outlook", "ics"]) root.querySelector(`[data-${name}]`).href = links[name];
  root.hidden = false;
}
