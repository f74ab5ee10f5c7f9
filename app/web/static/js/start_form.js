/* 发起流程: the start form of a process (drawn by task_form.js) and its submission. The page checks the
   simple keywords first; the server validates the whole form and answers 422 with each field's JSON pointer
   and message, marked next to the fields (nothing is started). Once started, the page goes where the answer
   says: the starter's first task of the new instance, or the receipt. */
(function () {
  "use strict";

  var root = document.getElementById("task-form");
  var button = document.getElementById("start-button");
  if (!root || !button) { return; }
  var messages = root.dataset;
  var formError = document.getElementById("form-error");
  var gridSelect = document.getElementById("start-grid");
  var form = GridcaseForm.mount(root);
  var label = button.textContent;
  // one key per visit of the page: a retry after a lost answer gets the first start, not a second one
  var key = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();

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
    var body = { data: form.value(), grid_code: gridSelect ? gridSelect.value : null };
    GridcaseFetch.send(messages.completeUrl, { method: "POST", json: body, headers: { "Idempotency-Key": key } })
      .then(function (answer) {
        if (answer.ok && answer.body.redirect) { window.location.assign(answer.body.redirect); return; }
        button.disabled = false;
        button.textContent = label;
        if (answer.status === 422) { key = String(Date.now()) + Math.random(); } // refused: the next try is new
        fail(form.showErrors(serverProblems(answer.body)));
      }, function () {
        button.disabled = false;
        button.textContent = label;
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  });
})();
