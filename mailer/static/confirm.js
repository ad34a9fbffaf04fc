// Confirms on its own once the page has loaded, so people need one click (in the mail).
// Link scanners fetch the page but run no script, so they never confirm anybody.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("confirm-form");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    var note = document.getElementById("confirm-status");
    // The words come from the page, in the reader's language (data-confirming).
    if (note && form.dataset.confirming) { note.textContent = form.dataset.confirming; }
    form.submit();
  }
});
