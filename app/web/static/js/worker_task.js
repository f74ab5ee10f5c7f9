/* The task form of the grid worker page: json-editor for the task's JSON Schema, photo fields that upload
   from the camera as case attachments, the phone's location, and completion with the server's field errors
   shown next to the fields. */
(function () {
  "use strict";

  var root = document.getElementById("task-form");
  if (!root) { return; }
  var messages = root.dataset;
  var location = null;

  // -- the form ------------------------------------------------------------------------------------
  JSONEditor.defaults.options.theme = "html";
  JSONEditor.defaults.options.iconlib = null; // no icon fonts from a CDN
  var editor = new JSONEditor(document.getElementById("json-form"), {
    schema: JSON.parse(messages.schema),
    startval: JSON.parse(messages.startval || "{}"),
    disable_theme_rules: true, // no <style> element (CSP); our CSS styles the form
    disable_collapse: true,
    disable_edit_json: true,
    disable_properties: true,
    disable_array_reorder: true,
    no_additional_properties: true,
    prompt_before_delete: false,
    show_errors: "never", // the server's validator is the one voice: its messages go next to the fields
    use_default_values: false,
    remove_empty_properties: true
  });

  editor.on("change", function () {
    Array.prototype.forEach.call(root.querySelectorAll(".server-error"), function (node) { node.remove(); });
  });

  // -- photos ----------------------------------------------------------------------------------------
  var photoFields = Array.prototype.slice.call(root.querySelectorAll(".photo-field"));

  function addThumb(field, id, url) {
    var list = field.querySelector(".picked");
    var item = document.createElement("li");
    item.dataset.id = String(id);
    var image = document.createElement("img");
    image.src = url;
    image.alt = "#" + id;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small";
    remove.textContent = messages.msgRemove;
    remove.addEventListener("click", function () { item.remove(); });
    item.appendChild(image);
    item.appendChild(remove);
    list.appendChild(item);
  }

  function fieldError(name, text) {
    var target = root.querySelector('[data-error-for="' + name + '"]');
    if (!target) { return false; }
    target.textContent = text || "";
    target.hidden = !text;
    return true;
  }

  photoFields.forEach(function (field) {
    JSON.parse(field.dataset.selected || "[]").forEach(function (id) {
      addThumb(field, id, "/api/v1/attachments/" + id + "/content?thumbnail=1");
    });
    var input = field.querySelector("input[type=file]");
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files);
      fieldError(field.dataset.field, messages.msgUploading);
      var uploads = files.map(function (file) {
        var body = new FormData();
        body.append("file", file, file.name);
        var url = messages.photoUrl + "?kind=" + encodeURIComponent(field.dataset.kind);
        return GridcaseFetch.send(url, { method: "POST", body: body }).then(function (answer) {
          if (answer.ok) { addThumb(field, answer.body.id, answer.body.thumbnail); return null; }
          var details = answer.body.details || {};
          return file.name + ": " + (details.file || answer.body.message || answer.status);
        });
      });
      Promise.all(uploads).then(function (problems) {
        problems = problems.filter(Boolean);
        fieldError(field.dataset.field, problems.length ? messages.msgUploadFailed + " " + problems.join("; ") : "");
        input.value = "";
      }, function () { fieldError(field.dataset.field, messages.msgNetwork); });
    });
  });

  function photoIds(field) {
    return Array.prototype.map.call(field.querySelectorAll(".picked li"), function (item) {
      return parseInt(item.dataset.id, 10);
    });
  }

  // -- location --------------------------------------------------------------------------------------
  var locationStatus = document.getElementById("location-status");
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

  // -- completion ------------------------------------------------------------------------------------
  var formError = document.getElementById("form-error");
  var button = document.getElementById("complete-button");

  function clearErrors() {
    Array.prototype.forEach.call(root.querySelectorAll(".server-error"), function (node) { node.remove(); });
    Array.prototype.forEach.call(root.querySelectorAll("[data-error-for]"), function (node) {
      node.textContent = ""; node.hidden = true;
    });
    formError.hidden = true;
  }

  function showServerErrors(details) {
    var general = [];
    Object.keys(details).forEach(function (path) {
      var name = path.split(".")[0];
      var text = Array.isArray(details[path]) ? details[path].join(" ") : String(details[path]);
      if (fieldError(name, text)) { return; }
      var fieldEditor = editor.getEditor("root." + name);
      if (fieldEditor && fieldEditor.container) {
        var note = document.createElement("p");
        note.className = "field-error server-error";
        note.dataset.errorFor = name;
        note.textContent = text;
        fieldEditor.container.appendChild(note);
      } else {
        general.push(text);
      }
    });
    formError.textContent = messages.msgFailed + (general.length ? " " + general.join(" ") : "");
    formError.hidden = false;
    var first = root.querySelector(".field-error:not([hidden])");
    if (first && first.scrollIntoView) { first.scrollIntoView({ block: "center" }); }
  }

  button.addEventListener("click", function () {
    clearErrors();
    var data = editor.getValue() || {};
    photoFields.forEach(function (field) {
      var ids = photoIds(field);
      if (ids.length) { data[field.dataset.field] = ids; } else { delete data[field.dataset.field]; }
    });
    Object.keys(data).forEach(function (key) { if (data[key] === "" || data[key] === null) { delete data[key]; } });
    button.disabled = true;
    button.textContent = messages.msgSending;
    GridcaseFetch.send(messages.completeUrl, { method: "POST", json: { data: data, location: location } })
      .then(function (answer) {
        if (answer.ok) { window.location.assign(answer.body.redirect); return; }
        button.disabled = false;
        button.textContent = button.dataset.label;
        showServerErrors(answer.body.details && Object.keys(answer.body.details).length
          ? answer.body.details : { data: answer.body.message || String(answer.status) });
      }, function () {
        button.disabled = false;
        button.textContent = button.dataset.label;
        formError.textContent = messages.msgNetwork;
        formError.hidden = false;
      });
  });
  button.dataset.label = button.textContent;
})();
