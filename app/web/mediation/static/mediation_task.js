/* The dispute page's current task: its form (static/js/task_form.js) checked in the page, sent as JSON to
   the complete address the template gives (data-complete-url), the server's refusals marked beside their
   fields; on success the dispute page again (the answer's redirect). No inline script (CSP). */
(function () {
  "use strict";

  var root = document.getElementById("task-form");
  var button = document.getElementById("complete-button");
  if (!root || !button) { return; }
  var messages = root.dataset;
  var formError = document.getElementById("form-error");
  var form = GridcaseForm.mount(root);
  var label = button.textContent;

  function fail(general) {
    formError.textContent = messages.msgFailed + (general.length ? " " + general.join(" ") : "");
    formError.hidden = false;
  }

  function serverProblems(body) {
    if (Array.isArray(body.errors) && body.errors.length) { return body.errors; }
    var details = body.details || {};
    var keys = Object.keys(details);
    if (!keys.length) { return [{ pointer: "", message: body.message || "" }]; }
    return keys.map(function (field) {
      return { pointer: "/" + field.split(".").join("/"), message: String(details[field]) };
    });
  }

  root.addEventListener("input", function () {
    if (!root.querySelector(".has-error")) { formError.hidden = true; }
  });

  button.addEventListener("click", function () {
    form.clearErrors();
    formError.hidden = true;
    var problems = form.check();
    if (problems.length) { fail(form.showErrors(problems)); return; }
    button.disabled = true;
    button.textContent = messages.msgSending;
    GridcaseFetch.send(messages.completeUrl, { method: "POST", json: { data: form.value() } })
      .then(function (answer) {
        if (answer.ok) { window.location.assign(answer.body.redirect); return; }
        button.disabled = false;
        button.textContent = label;
        fail(form.showErrors(serverProblems(answer.body)));
      }, function () {
        button.disabled = false;
        button.textContent = label;
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  });
})();
