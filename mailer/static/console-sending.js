// Live sending view: server-sent events update the figures without a reload. Without
// scripts (or EventSource) the page refreshes itself every 5 seconds instead.
(function () {
  "use strict";
  var root = document.getElementById("sending");
  if (!root || root.dataset.final === "yes" || !window.EventSource) { return; }
  var bar = document.getElementById("bar");
  var note = document.getElementById("live-note");
  function set(selector, value) {
    document.querySelectorAll(selector).forEach(function (el) { el.textContent = value; });
  }
  function eta(p) {
    if (p.final) { return "done"; }
    if (p.eta_seconds === null) { return "–"; }
    var s = p.eta_seconds, m = Math.floor(s / 60);
    return m ? m + " min " + (s % 60) + " s" : s + " s";
  }
  var source = new EventSource(root.dataset.events);
  source.addEventListener("progress", function (event) {
    var p = JSON.parse(event.data);
    bar.setAttribute("aria-valuenow", p.percent);
    bar.firstElementChild.style.width = p.percent + "%";
    ["percent", "done", "total", "rate_per_second", "status"].forEach(function (k) {
      set('[data-field="' + k + '"]', p[k]);
    });
    set('[data-field="eta"]', eta(p));
    var c = p.counts;
    ["sent", "deferred", "failed", "suppressed", "cancelled"].forEach(function (k) {
      set('[data-count="' + k + '"]', c[k]);
    });
    set('[data-count="waiting"]', c.queued + c.sending);
    var status = document.getElementById("status");
    status.className = "status status-" + p.status;
    document.querySelectorAll("[data-show-when]").forEach(function (form) {
      form.hidden = form.dataset.showWhen.split(" ").indexOf(p.status) < 0;
    });
    root.dataset.status = p.status;
    if (p.final) {
      source.close();
      root.dataset.final = "yes";
      note.textContent = "This send is over.";
    } else {
      // The same clock as every other console page: 24-hour, in the editor's zone.
      var zone = root.dataset.zone || "UTC", clock;
      try {
        clock = new Date().toLocaleTimeString("en-GB", { timeZone: zone, hour12: false });
      } catch (e) {
        clock = new Date().toISOString().slice(11, 19);
        zone = "UTC";
      }
      note.textContent = (p.status === "finishing"
        ? "Every mail is handed over; it is marked sent in a moment. "
        : "Live: ") + "updated " + clock + " (" + zone + ").";
    }
  });
  source.onerror = function () {
    if (root.dataset.final !== "yes") { note.textContent = "Reconnecting… (or refresh the page)"; }
  };
})();
