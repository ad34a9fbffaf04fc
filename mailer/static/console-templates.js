// The mail template editor's live preview; without it, the Preview button does the same.
// As the editor types (or picks another subscriber or language), the draft is posted into
// the sandboxed preview frame, and its subject, plain text and first problem (with its
// line) are fetched for the page.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  var button = document.getElementById("preview-button");
  if (!form || !button || !form.requestSubmit) { return; }
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var subject = document.getElementById("preview-subject");
  var text = document.getElementById("preview-text");
  var problem = document.getElementById("preview-problem");
  var as = document.getElementById("preview-as");
  var timer = null;
  var asked = 0;

  function refresh() {
    var mine = ++asked;
    form.requestSubmit(button);  // the frame shows the draft's HTML
    fetch(form.dataset.check, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || mine !== asked) { return; }  // a newer answer is on its way
        subject.textContent = body.subject;
        text.textContent = body.text;
        problem.textContent = body.problem;
        problem.hidden = !body.problem;
        as.textContent = body.as;
        form.dataset.previewed = String(mine);
      });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  form.addEventListener("change", function (event) {
    if (event.target.tagName === "SELECT") { clearTimeout(timer); refresh(); }
  });
})();
