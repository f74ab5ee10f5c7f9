/* The form editor: schema and UI hints as text, a live preview rendered by @json-editor/json-editor while
   typing, the server's check of the schema itself (the same rules as loading a form), and save. */
(function () {
  "use strict";

  var helpers = window.gridcaseDesigner;
  var root = document.getElementById("form-editor");
  var msg = root.dataset;
  var schemaSource = document.getElementById("schema-source");
  var uiSource = document.getElementById("uischema-source");
  var statusLine = document.getElementById("form-status");
  var problemList = document.getElementById("form-problems");
  var previewHolder = document.getElementById("form-preview");
  var previewError = document.getElementById("preview-error");
  var saveButton = document.getElementById("save-form-button");
  var editor = null;
  // Keywords the preview leaves out: json-editor does not implement them the way app/workflow/forms.py does.
  var SERVER_ONLY = ["$schema", "$id", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
                     "dependentSchemas", "dependentRequired"];

  document.getElementById("preview-note").textContent = msg.msgPreviewNote;

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " status-" + kind : "");
  }

  function showProblems(problems) {
    problemList.textContent = "";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "problem";
      item.dataset.document = problem.document;
      item.textContent = problem.document + ": " + problem.message;
      problemList.appendChild(item);
    });
  }

  function parse(text) {
    return text.trim() ? JSON.parse(text) : {};
  }

  /* The form as json-editor reads it: our annotations (x-enum-titles, UI hints) as its options. */
  function previewSchema(schema, ui) {
    var copy = JSON.parse(JSON.stringify(schema));
    SERVER_ONLY.forEach(function (keyword) { delete copy[keyword]; });
    var order = Array.isArray(ui["ui:order"]) ? ui["ui:order"] : [];
    var properties = copy.properties || {};
    Object.keys(properties).forEach(function (name) {
      var property = properties[name];
      if (!property || typeof property !== "object") { return; }
      var hints = ui[name] || {};
      property.options = property.options || {};
      if (order.indexOf(name) >= 0) { property.propertyOrder = order.indexOf(name) + 1; }
      if (Array.isArray(property["x-enum-titles"])) { property.options.enum_titles = property["x-enum-titles"]; }
      if (hints["ui:widget"] === "textarea") { property.format = "textarea"; }
      if (hints["ui:widget"] === "radio" && property.enum) { property.format = "radio"; }
      if (hints["ui:placeholder"]) { property.options.inputAttributes = { placeholder: hints["ui:placeholder"] }; }
    });
    return copy;
  }

  function renderPreview() {
    var schema;
    var ui;
    try {
      schema = parse(schemaSource.value);
      ui = parse(uiSource.value);
    } catch (error) {
      previewError.textContent = msg.msgBadJson + " " + error.message;
      return false;
    }
    previewError.textContent = "";
    if (editor) { editor.destroy(); editor = null; }
    try {
      editor = new window.JSONEditor(previewHolder, {
        schema: previewSchema(schema, ui),
        theme: "html",
        iconlib: null,
        disable_edit_json: true,
        disable_properties: true,
        disable_collapse: true,
        no_additional_properties: true,
        show_errors: "interaction",
        remove_empty_properties: true,  // an empty optional field is "not given", as on completion
        disable_theme_rules: true  // its <style> element would break the CSP; designer.css styles it
      });
      window.gridcaseFormPreview = editor;
    } catch (error) {
      previewError.textContent = String(error.message || error);
    }
    return true;
  }

  function check() {
    setStatus(msg.msgChecking);
    return helpers.postJSON(msg.checkUrl, { schema: schemaSource.value, uischema: uiSource.value })
      .then(function (response) {
        if (response.status !== 200) {
          setStatus(msg.msgFailed + " " + (response.body.message || response.status), "error");
          return;
        }
        showProblems(response.body.problems || []);
        setStatus(response.body.valid ? msg.msgValid : msg.msgInvalid, response.body.valid ? "ok" : "error");
        root.dataset.checked = response.body.valid ? "valid" : "invalid";
      })
      .catch(function (error) { setStatus(msg.msgFailed + " " + error, "error"); });
  }

  function save() {
    saveButton.disabled = true;
    setStatus(msg.msgSaving);
    return helpers.postJSON(msg.saveUrl, {
      schema: schemaSource.value, uischema: uiSource.value, base_hash: root.dataset.baseHash
    })
      .then(function (response) {
        var body = response.body;
        if (response.status === 200) {
          root.dataset.baseHash = body.version_hash;
          showProblems([]);
          setStatus(body.changed ? msg.msgSaved : msg.msgUnchanged, "ok");
        } else if (response.status === 409) {
          setStatus(msg.msgConflict, "error");
        } else if (response.status === 422 && body.details && body.details.problems) {
          showProblems(body.details.problems);
          setStatus(msg.msgInvalid, "error");
        } else {
          setStatus(msg.msgFailed + " " + (body.message || response.status), "error");
        }
      })
      .catch(function (error) { setStatus(msg.msgFailed + " " + error, "error"); })
      .finally(function () { saveButton.disabled = false; });
  }

  var onEdit = helpers.debounce(function () {
    renderPreview();
    check();
  }, 350);
  schemaSource.addEventListener("input", onEdit);
  uiSource.addEventListener("input", onEdit);
  saveButton.addEventListener("click", save);
  renderPreview();
  check();
})();
