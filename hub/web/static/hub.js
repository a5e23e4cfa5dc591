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
// A wide table scrolls inside itself on a phone: make it reachable from the keyboard (and named
// for screen readers) when, and only when, it actually scrolls.
function markScrollableTables() {
  document.querySelectorAll("main table, main .table-scroll").forEach(function (region) {
    var scrolls = region.scrollWidth > region.clientWidth + 1;
    if (scrolls && !region.hasAttribute("tabindex")) {
      region.setAttribute("tabindex", "0");
      region.dataset.scrollRegion = "yes";
      if (!region.hasAttribute("aria-label")) {
        var heading = region.closest("section, main").querySelector("h1, h2");
        // A table keeps its own role (its rows and headers matter); a wrapper becomes a region.
        if (region.tagName !== "TABLE") region.setAttribute("role", "region");
        region.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table, scrolls sideways");
      }
    } else if (!scrolls && region.dataset.scrollRegion === "yes") {
      region.removeAttribute("tabindex");
      delete region.dataset.scrollRegion;
    }
  });
}
document.addEventListener("DOMContentLoaded", markScrollableTables);
window.addEventListener("resize", markScrollableTables);
// A form marked data-progress (the bulk sighting upload: up to 100,000 lines) is sent in the
// background so the page can show how much has been sent, then that the hub is matching.
// The server answers with a redirect to the result (followed here) or the form with its errors.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.progress || event.defaultPrevented) return;
  var box = document.getElementById(form.dataset.progress);
  if (!box || !window.XMLHttpRequest || !window.FormData || !window.DOMParser) return;
  event.preventDefault();
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  box.hidden = false;
  var request = new XMLHttpRequest();
  request.open("POST", form.action || window.location.href);
  request.upload.addEventListener("progress", function (progress) {
    if (!progress.lengthComputable) return;
    var percent = Math.round(100 * progress.loaded / progress.total);
    bar.value = percent;
    text.textContent = "Sent " + percent + "% (" + Math.round(progress.loaded / 1024) + " of " + Math.round(progress.total / 1024) + " KB)";
  });
  request.upload.addEventListener("load", function () {
    bar.removeAttribute("value");  // indeterminate: the hub is matching
    text.textContent = "Sent. Matching the values against everything your organisation may read…";
  });
  request.addEventListener("load", function () {
    var sentTo = new URL(form.action || window.location.href, window.location.href).href;
    if (request.responseURL && request.responseURL !== sentTo) {
      window.location.assign(request.responseURL);  // the result page
      return;
    }
    // The form came back with its errors: show them in place of this page's content.
    var page = new DOMParser().parseFromString(request.responseText, "text/html");
    var main = page.querySelector("main");
    if (main) document.querySelector("main").replaceWith(main);
    else window.location.reload();
  });
  request.addEventListener("error", function () {
    box.hidden = false;
    bar.value = 0;
    text.textContent = "The upload failed (network error). Nothing was recorded; try again.";
    delete form.dataset.sent;
    form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = false; });
  });
  request.send(new FormData(form));
});
