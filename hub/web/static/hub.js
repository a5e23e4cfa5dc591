// Progressive enhancement only: every form works without this file.
// A submit button is disabled once its form is sent, so a second click cannot send it twice.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.dataset.sent === "yes") { event.preventDefault(); return; }
  form.dataset.sent = "yes";
  var pressed = event.submitter;
  // Disabled after the browser has collected the form data, so the pressed button's value is still sent.
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
    });
    if (pressed && pressed.dataset.sending) pressed.textContent = pressed.dataset.sending;
  }, 0);
});
// Coming back with the browser's Back button shows the page from the cache: enable the buttons again.
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) return;
  document.querySelectorAll("form[data-sent]").forEach(function (form) {
    delete form.dataset.sent;
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-disabled");
    });
  });
});
