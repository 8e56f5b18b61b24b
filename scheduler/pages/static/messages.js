// The page's words in its language: the server puts the translations of these scripts'
// messages into the page (#messages, a JSON data block), and its locale for dates, times and
// lists on <html data-locale>. Messages are the English text, with {name} for each value.

const root = document.documentElement;
const catalogue = JSON.parse(document.getElementById("messages")?.textContent || "{}");
export const LOCALE = root.dataset.locale || root.lang || undefined;
const plurals = new Intl.PluralRules(LOCALE);

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// `message` in the page's language, its {names} filled from `values`.
export function _(message, values = {}) {
  return fill(catalogue[message] ?? message, values);
}

// The form of a message for `count` ({count} in it is filled in): the catalogue gives a
// message's form for one and for other counts, and the locale's plural rules say which a count takes.
export function ngettext(singular, plural, count, values = {}) {
  const [one, other] = catalogue[singular] ?? [singular, plural];
  return fill(plurals.select(count) === "one" ? one : other, { count, ...values });
}

// "Ann", "Ann and Ben", "Ann, Ben and Cat" (`type` "disjunction": "Ann or Ben"), as the locale joins them.
export function list(items, type = "conjunction") {
  return new Intl.ListFormat(LOCALE, { type }).format(items);
}
