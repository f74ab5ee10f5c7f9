/* 试运行: start a test run (the version's start form drawn by task_form.js, or a JSON object of variables)
   and complete its ready task. The server validates as a start or a task completion does and answers 422
   naming each field (marked beside it; nothing is written); once accepted the page goes where the answer
   says (the run's page, drawn afresh: the token path, the next tasks, the variables, the log). */
(function () {
  "use strict";

  function serverProblems(body) {
    if (Array.isArray(body.errors) && body.errors.length) { return body.errors; }
    var details = body.details || {};
    var keys = Object.keys(details);
    if (!keys.length) { return [{ pointer: "", message: body.message || "" }]; }
    return keys.map(function (field) {
      return { pointer: "/" + field.split(".").join("/"), message: String(details[field]) };
    });
  }

  function post(url, body, button, onRefused, onNetwork) {
    var label = button.textContent;
    button.disabled = true;
    GridcaseFetch.send(url, { method: "POST", json: body }).then(function (answer) {
      if (answer.ok && answer.body.redirect) { window.location.assign(answer.body.redirect); return; }
      button.disabled = false;
      button.textContent = label;
      onRefused(answer.body || {});
    }, function () {
      button.disabled = false;
      button.textContent = label;
      onNetwork();
    });
  }

  // A form drawn by task_form.js (a start form, or the chosen task's form), sent as {data}.
  function formSender(button) {
    var root = document.getElementById("task-form");
    if (!root || !button) { return; }
    var messages = root.dataset;
    var formError = document.getElementById("form-error");
    var form = GridcaseForm.mount(root);

    function fail(general) {
      formError.textContent = messages.msgFailed + (general.length ? " " + general.join(" ") : "");
      formError.hidden = false;
    }

    button.addEventListener("click", function () {
      form.clearErrors();
      formError.hidden = true;
      var problems = form.check();
      if (problems.length) { fail(form.showErrors(problems)); return; }
      post(messages.completeUrl, { data: form.value() }, button,
        function (body) { fail(form.showErrors(serverProblems(body))); },
        function () { formError.textContent = messages.msgNetwork; formError.hidden = false; });
    });
  }

  // No start form: the variables as a JSON object, its problems beside the field.
  function variablesSender(button) {
    var root = document.getElementById("test-variables-form");
    if (!root || !button) { return; }
    var field = document.getElementById("test-variables");
    var error = document.getElementById("test-variables-error");
    var formError = document.getElementById("form-error");

    function show(message) {
      error.textContent = message;
      error.hidden = !message;
      field.setAttribute("aria-invalid", message ? "true" : "false");
      root.querySelector(".form-field").classList.toggle("has-error", Boolean(message));
    }

    field.addEventListener("input", function () { show(""); formError.hidden = true; });
    button.addEventListener("click", function () {
      show("");
      formError.hidden = true;
      post(root.dataset.startUrl, { variables_json: field.value }, button, function (body) {
        var details = body.details || {};
        show(String(details.variables || ""));
        if (!details.variables) {
          formError.textContent = root.dataset.msgFailed + " " + (body.message || "");
          formError.hidden = false;
        }
      }, function () { formError.textContent = root.dataset.msgNetwork; formError.hidden = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var start = document.getElementById("start-test-run");
    if (start && document.getElementById("test-variables-form")) {
      variablesSender(start);
    } else if (start) {
      formSender(start);
    }
    formSender(document.getElementById("complete-test-task"));
  });
})();
