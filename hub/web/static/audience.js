// "Who will see this" follows the share form: as the TLP or the audience changes, the page asks
// the hub (GET /audience/preview, the sharing policy itself) and shows the answer in words.
// Progressive enhancement only: without this file the page shows what the server computed.
(function () {
  function query(form, output) {
    var data = new FormData(form), params = new URLSearchParams();
    ["tlp", "audience", "users"].forEach(function (name) {
      var value = data.get(name);
      if (value !== null && typeof value === "string") params.set(name, value);
    });
    ["groups", "orgs"].forEach(function (name) {
      data.getAll(name).forEach(function (value) { params.append(name, value); });
    });
    if (!params.has("audience") && output.dataset.audience) {
      params.set("audience", output.dataset.audience);
      if (output.dataset.names) params.set(output.dataset.audience, output.dataset.names);
    }
    if (output.dataset.type) params.set("type", output.dataset.type);
    if (output.dataset.item) params.set("item", output.dataset.item);
    return params;
  }

  function follow(output) {
    var form = output.closest("form");
    if (!form) return;
    var asked = 0, typing = null;
    function refresh() {
      var ticket = ++asked, params = query(form, output);
      // Until the TLP (not asked when widening) and the audience are chosen, there is nothing to ask.
      if (!params.get("audience") || (!output.dataset.item && !params.get("tlp"))) {
        output.textContent = output.dataset.empty;
        return;
      }
      fetch(output.dataset.url + "?" + params.toString(), {
        credentials: "same-origin", headers: { Accept: "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (ticket !== asked) return;  // a later change has asked again
        output.textContent = answer.ok ? answer.body.text : "not known yet: " + (answer.body.error || "check the form");
      }).catch(function () { /* offline: the page keeps what it showed */ });
    }
    form.addEventListener("change", refresh);
    form.addEventListener("input", function (event) {
      if (event.target.name !== "users") return;
      window.clearTimeout(typing);
      typing = window.setTimeout(refresh, 400);
    });
  }

  document.querySelectorAll("[data-who-reads]").forEach(follow);
})();
