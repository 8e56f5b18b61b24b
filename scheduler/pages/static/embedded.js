// The booking page's side of an embed (static/embed.js is the host's): when framed, it tells
// the frame's parent its height and, once booked, the booking (start, end, status: what the
// guest's answer holds; never its manage link, and no row id, which guests are not shown). Messages go only to the origins the event type lists (data-embed-origins):
// the parent's own when the browser names it, else each listed one, which the browser then
// delivers only if it is the parent's (frame-ancestors already refused any other parent).
(() => {
  "use strict";
  if (window.parent === window) return;
  const listed = (document.currentScript?.dataset.embedOrigins || "").split(" ").filter(Boolean);
  if (!listed.length) return;

  function parentOrigin() {
    const named = window.location.ancestorOrigins?.[0];
    if (named) return named;
    try {
      return document.referrer ? new URL(document.referrer).origin : null;
    } catch {
      return null;
    }
  }

  const known = parentOrigin();
  const targets = listed.includes(known) ? [known] : listed;

  function tell(message) {
    for (const origin of targets) window.parent.postMessage(message, origin);
  }

  function booked(data) {
    const booking = data.bookings ? data.bookings[0] : data.booking;
    return { start: booking.start, end: booking.end, status: booking.status };
  }

  function start() {
    document.documentElement.classList.add("embedded");
    // The manage page is not framed (it holds the guest's token): its links open a window of their own.
    document.addEventListener("click", (event) => {
      const link = event.target.closest?.("a[href]");
      if (link && new URL(link.href).pathname.startsWith("/manage/")) {
        link.target = "_blank";
        link.rel = "noopener";
      }
    }, true);
    let last = 0;
    new ResizeObserver(() => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height !== last) {
        last = height;
        tell({ type: "scheduler:resize", height });
      }
    }).observe(document.documentElement);
    document.addEventListener("scheduler:booked", (event) => tell({ type: "scheduler:booked", booking: booked(event.detail) }));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
