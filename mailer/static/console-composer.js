// The digest composer's enhancements; everything works without them (buttons post the form).
// - a live preview of the Markdown intro, rendered by the server as the mail will show it;
// - drag and drop to reorder items, saved at once;
// - the browser's time zone preselected when the editor has not chosen one yet.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var form = document.getElementById("composer");

  function post(url, data) {
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" }
    });
  }

  // Live intro preview
  var intro = document.getElementById("intro_md");
  var preview = document.getElementById("intro-preview");
  var timer = null;
  if (intro && preview) {
    intro.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var data = new FormData();
        data.append("intro_md", intro.value);
        post("/console/digests/intro-preview", data)
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (body) {
            // The server's HTML is sanitised (nh3) and the CSP allows no inline script.
            if (body) { preview.innerHTML = body.html; preview.dataset.updated = "1"; }
          });
      }, 250);
    });
  }

  // Drag and drop
  var list = document.getElementById("digest-items");
  var status = document.getElementById("save-status");
  var dragged = null;
  function refreshButtons() {
    var rows = list.querySelectorAll("li");
    rows.forEach(function (li, i) {
      li.querySelector('button[value^="up:"]').disabled = i === 0;
      li.querySelector('button[value^="down:"]').disabled = i === rows.length - 1;
    });
  }
  function saveOrder() {
    var data = new FormData(form);
    data.set("op", "save");
    if (status) { status.textContent = "Saving the new order…"; }
    post(form.action, data).then(function (r) {
      if (status) { status.textContent = r.ok ? "Order saved." : "The order could not be saved; use Save."; }
    });
  }
  if (list && form && !form.querySelector("fieldset").disabled) {
    list.querySelectorAll("li").forEach(function (li) {
      li.setAttribute("draggable", "true");
      li.addEventListener("dragstart", function (e) {
        dragged = li; li.classList.add("dragging");
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", li.dataset.itemId);
      });
      li.addEventListener("dragend", function () {
        li.classList.remove("dragging");
        list.querySelectorAll(".drop-target").forEach(function (x) { x.classList.remove("drop-target"); });
      });
      li.addEventListener("dragover", function (e) {
        if (!dragged || dragged === li) { return; }
        e.preventDefault();
        li.classList.add("drop-target");
      });
      li.addEventListener("dragleave", function () { li.classList.remove("drop-target"); });
      li.addEventListener("drop", function (e) {
        e.preventDefault();
        li.classList.remove("drop-target");
        if (!dragged || dragged === li) { return; }
        var rows = Array.prototype.slice.call(list.children);
        var after = rows.indexOf(dragged) < rows.indexOf(li);
        list.insertBefore(dragged, after ? li.nextSibling : li);
        dragged = null;
        refreshButtons();
        saveOrder();
      });
    });
  }

  // Time zone: the browser's, unless the editor chose one before. The suggested (or
  // scheduled) moment moves with it: the server wrote it in its own zone, and the same
  // wall-clock time in another zone is another moment (in the past, or hours off).
  var zone = document.getElementById("timezone");
  var shown = document.getElementById("zone-shown");
  var when = document.getElementById("send_at");
  function two(n) { return (n < 10 ? "0" : "") + n; }
  if (zone) {
    if (zone.dataset.remembered === "no" && window.Intl) {
      var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (mine && mine !== zone.value && zone.querySelector('option[value="' + mine + '"]')) {
        var moment = when && when.dataset.utc ? new Date(when.dataset.utc) : null;
        zone.value = mine;
        if (shown) { shown.textContent = mine; }
        if (moment && !isNaN(moment.getTime())) {  // the browser's local time is in `mine`
          when.value = moment.getFullYear() + "-" + two(moment.getMonth() + 1) + "-" +
            two(moment.getDate()) + "T" + two(moment.getHours()) + ":" + two(moment.getMinutes());
        }
      }
    }
    zone.addEventListener("change", function () { if (shown) { shown.textContent = zone.value; } });
  }
})();
