/* The grid worker's task page: the task form (static/js/task_form.js), the phone's location, and the
   completion, checked in the page first and then by the server, whose field errors (JSON pointer and
   message in the user's language) are marked next to the fields they name. */
(function () {
  "use strict";

  var root = document.getElementById("task-form");
  if (!root) { return; }
  var messages = root.dataset;
  var location = null;
  var form = GridcaseForm.mount(root);

  // -- location --------------------------------------------------------------------------------------
  var locationStatus = document.getElementById("location-status");
  if (locationStatus && messages.trackLocation) {
    if (navigator.geolocation) {
      locationStatus.textContent = messages.msgLocationWait;
      navigator.geolocation.getCurrentPosition(function (position) {
        location = {
          lat: position.coords.latitude,
          lon: position.coords.longitude,
          accuracy: Math.round(position.coords.accuracy || 0)
        };
        locationStatus.textContent = messages.msgLocationOk.replace("%(m)s", String(location.accuracy));
      }, function () {
        locationStatus.textContent = messages.msgLocationNone;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    } else {
      locationStatus.textContent = messages.msgLocationNone;
    }
  }

  // -- completion ------------------------------------------------------------------------------------
  var formError = document.getElementById("form-error");
  var button = document.getElementById("complete-button");
  if (!button) { return; }
  button.dataset.label = button.textContent;

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

  // once every marked field is corrected, the summary line goes too
  root.addEventListener("input", function () {
    if (!root.querySelector(".has-error")) { formError.hidden = true; }
  });

  function ready() {
    button.disabled = false;
    button.textContent = button.dataset.label;
  }

  function send(withChecks) {
    form.clearErrors();
    formError.hidden = true;
    var problems = withChecks ? form.check() : [];
    if (problems.length) { fail(form.showErrors(problems)); return; }
    button.disabled = true;
    button.textContent = messages.msgSending;
    GridcaseFetch.send(messages.completeUrl, { method: "POST", json: { data: form.value(), location: location } })
      .then(function (answer) {
        if (answer.ok) {
          if (answer.body.redirect) { window.location.assign(answer.body.redirect); return; }
          ready();
          formError.textContent = button.dataset.msgAccepted || "";
          formError.hidden = false;
          return;
        }
        ready();
        fail(form.showErrors(serverProblems(answer.body)));
      }, function () {
        ready();
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  }

  button.addEventListener("click", function () { send(true); });
  // the form preview's "server only": what the server says about data the page would have refused
  var serverOnly = document.getElementById("server-check-button");
  if (serverOnly) { serverOnly.addEventListener("click", function () { send(false); }); }
})();
