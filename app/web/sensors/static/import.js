/* The CSV import as a chunked request: the file goes up once to data-read-url, which checks its header and
   answers its rows (nothing written); the rows then go back data-rows-url's chunk size at a time, each chunk
   registered and committed by itself, and the progress bar follows the chunks. The rejected rows are listed
   as they come (text only). Without this script the form posts the whole file in one request. */
(function () {
  "use strict";

  var form = document.getElementById("import-form");
  if (!form || !window.GridcaseFetch) { return; }
  var fileInput = document.getElementById("i-file");
  var fileError = document.getElementById("err-file");
  var button = document.getElementById("import-button");
  var progress = document.getElementById("import-progress");
  var bar = document.getElementById("import-bar");
  var count = document.getElementById("import-count");
  var label = document.getElementById("import-label");
  var working = label.textContent;
  var report = document.getElementById("import-report");
  var summary = document.getElementById("import-summary");
  var table = document.getElementById("rejections");
  var body = table.querySelector("tbody");

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) { return String(values[key]); });
  }

  function showError(message) {
    fileError.textContent = message;
    fileError.hidden = false;
    fileInput.setAttribute("aria-invalid", "true");
    button.disabled = false;
  }

  function cell(row, text, detail) {
    var td = document.createElement("td");
    td.textContent = text;
    if (detail) {
      var more = document.createElement("div");
      more.className = "muted sn-detail";
      more.textContent = detail;
      td.appendChild(more);
    }
    row.appendChild(td);
  }

  function addRejections(rejected) {
    rejected.forEach(function (r) {
      var row = document.createElement("tr");
      cell(row, String(r.row));
      cell(row, r.device_id || "—");
      cell(row, r.field_label);
      cell(row, r.message, r.detail);
      body.appendChild(row);
    });
    table.hidden = body.children.length === 0;
  }

  function run(rows, chunkRows) {
    var state = { done: 0, created: 0, rejected: 0 };
    bar.max = rows.length;
    function step() {
      count.textContent = fill(count.dataset.template, { done: state.done, total: rows.length });
      bar.value = state.done;
      if (state.done >= rows.length) { finish(state); return; }
      var chunk = rows.slice(state.done, state.done + chunkRows);
      window.GridcaseFetch.send(form.dataset.rowsUrl, { method: "POST", json: { rows: chunk } })
        .then(function (answer) {
          if (!answer.ok) {
            showError((answer.body && answer.body.message) || String(answer.status));
            finish(state);
            return;
          }
          state.done += chunk.length;
          state.created += answer.body.created;
          state.rejected += answer.body.rejected_rows;
          addRejections(answer.body.rejected);
          step();
        })
        .catch(function (error) { showError(String(error)); finish(state); });
    }
    step();
  }

  function finish(state) {
    summary.textContent = fill(report.dataset.summary, { created: state.created, rejected: state.rejected });
    report.hidden = false;
    progress.dataset.finished = "true";
    label.textContent = label.dataset.done;
    button.disabled = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!fileInput.files.length) { form.reportValidity(); return; }
    fileError.hidden = true;
    fileInput.removeAttribute("aria-invalid");
    body.textContent = "";
    table.hidden = true;
    report.hidden = true;
    button.disabled = true;
    progress.hidden = false;
    delete progress.dataset.finished;
    label.textContent = working;
    var data = new FormData();
    data.append("file", fileInput.files[0]);
    window.GridcaseFetch.send(form.dataset.readUrl, { method: "POST", body: data })
      .then(function (answer) {
        if (!answer.ok) {
          progress.hidden = true;
          showError((answer.body.errors && answer.body.errors.file) || answer.body.message || String(answer.status));
          return;
        }
        run(answer.body.rows, answer.body.chunk_rows);
      })
      .catch(function (error) { progress.hidden = true; showError(String(error)); });
  });
})();
