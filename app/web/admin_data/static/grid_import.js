/* The grid import with its progress: the file goes up by XMLHttpRequest (upload progress), the answer streams
   one JSON line per step (features checked, then the relations), and the last line carries the report,
   rendered by the server. Without this script the form posts as a plain form and the page shows the report. */
(function () {
  "use strict";
  var form = document.getElementById("grid-import-form");
  if (!form || !window.XMLHttpRequest) { return; }
  var box = document.getElementById("grid-import-progress");
  var bar = document.getElementById("grid-import-bar");
  var status = document.getElementById("grid-import-status");
  var report = document.getElementById("grid-import-report");
  var button = document.getElementById("grid-import-submit");

  function say(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  function show(line) {
    var step;
    try { step = JSON.parse(line); } catch (error) { return; }
    if (step.phase === "checking") {
      bar.max = step.total || 1;
      bar.value = step.done;
      status.textContent = say(form.dataset.checking, { done: step.done, total: step.total });
    } else if (step.phase === "relations") {
      bar.removeAttribute("value"); // indeterminate: the checks between features and the writing
      status.textContent = form.dataset.relations;
    } else if (step.html !== undefined) {
      box.hidden = true;
      report.innerHTML = step.html;
      button.disabled = false;
    }
  }

  form.addEventListener("submit", function (event) {
    if (!form.reportValidity()) { return; }
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    var seen = 0;
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/x-ndjson");
    xhr.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) { return; }
      bar.max = progress.total;
      bar.value = progress.loaded;
      status.textContent = say(form.dataset.uploading, {
        percent: Math.round(100 * progress.loaded / progress.total)
      });
    });
    function drain(final) {
      var text = xhr.responseText;
      var end = text.lastIndexOf("\n");
      if (final && end < text.length - 1) { end = text.length; }
      if (end < seen) { return; }
      text.slice(seen, end).split("\n").forEach(function (line) { if (line) { show(line); } });
      seen = end + 1;
    }
    xhr.addEventListener("progress", function () { drain(false); });
    xhr.addEventListener("load", function () {
      if ((xhr.getResponseHeader("Content-Type") || "").indexOf("application/x-ndjson") === 0) {
        drain(true);
      } else {
        // a refusal before the import started: an unreadable file (the page with its report), or an error
        // page (a file too large, an expired form): its message
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var answer = page.getElementById("grid-import-report") || page.querySelector("main");
        if (answer) { report.innerHTML = answer.innerHTML; } else { report.textContent = form.dataset.failed; }
        box.hidden = true;
        button.disabled = false;
      }
    });
    xhr.addEventListener("error", function () {
      box.hidden = true;
      status.textContent = form.dataset.failed;
      report.textContent = form.dataset.failed;
      button.disabled = false;
    });
    report.innerHTML = "";
    box.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
