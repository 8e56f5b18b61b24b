// Embeds Scheduler booking pages on a host's own site (docs/booking-links.md, "Embedding"):
//
//   <div data-scheduler-embed="https://scheduler.example/book/ada/intro"></div>
//   <script src="https://scheduler.example/embed.js" async></script>
//
// Each such element gets the page in an iframe, which grows and shrinks to the height the page
// reports, and a `scheduler:booked` event (bubbling; detail: {start, end, status}) once the
// guest has booked. Only messages from that iframe, from the page's own origin, are heard. The
// page only allows being framed by the origins its event type lists (`embed_origins`).
(() => {
  "use strict";
  const script = document.currentScript;
  const service = script ? new URL(script.src).origin : null;
  const MAX_HEIGHT = 20000;

  function embed(container) {
    if (container.querySelector("iframe[data-scheduler-frame]")) return;
    let page;
    try {
      page = new URL(container.getAttribute("data-scheduler-embed"), document.baseURI);
    } catch {
      return;
    }
    // Only pages of the service this script came from.
    if (page.origin !== service) return;
    const frame = document.createElement("iframe");
    frame.src = page.href;
    frame.title = container.getAttribute("data-scheduler-title") || "Book a time";
    frame.setAttribute("data-scheduler-frame", "");
    frame.style.cssText = "display:block;width:100%;height:640px;border:0;";
    window.addEventListener("message", (event) => {
      if (event.source !== frame.contentWindow || event.origin !== page.origin) return;
      const data = event.data;
      if (!data || typeof data !== "object") return;
      if (data.type === "scheduler:resize" && Number.isFinite(data.height) && data.height > 0) {
        frame.style.height = `${Math.min(Math.ceil(data.height), MAX_HEIGHT)}px`;
      } else if (data.type === "scheduler:booked" && data.booking && typeof data.booking === "object") {
        const { start, end, status } = data.booking;
        container.dispatchEvent(new CustomEvent("scheduler:booked", {
          bubbles: true, detail: { start, end, status },
        }));
      }
    });
    container.append(frame);
  }

  function embedAll() {
    for (const container of document.querySelectorAll("[data-scheduler-embed]")) embed(container);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", embedAll);
  else embedAll();
})();
