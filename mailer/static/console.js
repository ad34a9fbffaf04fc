// Shared by every console page: confirm buttons marked data-confirm before their form posts.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) { event.preventDefault(); }
});

// The sign-in form tells the browser's time zone, so that times are shown in it from the
// first sign-in (without script the console shows UTC until the editor picks a zone).
(function () {
  var field = document.getElementById("browser-zone");
  if (field && window.Intl) {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  }
})();
