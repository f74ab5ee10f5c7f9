/* Draws a task form from the field list the server builds (app/web/task_form.py): every property of the
   schema, optional ones included; fields required only in an if/then branch appear when that branch is
   chosen. Checks the simple keywords with the server's messages before sending, and marks the field a
   server error names (by its JSON pointer). No eval, no inline styles: the page's CSP stays strict.
   GridcaseForm.mount(element, options?) → {value(), check(), showErrors([{pointer, message}]), clearErrors()}.
   options.photos (the phone's task page): {field(api)} is told of each photo field and {upload(files, api)}
   takes the chosen files instead of the plain upload here; api = {field, path, add(photo, checked) → item,
   status, changed()}. A photo's id may be a string (a photo still queued in the phone) until it is sent. */
(function () {
  "use strict";

  function pointerOf(path) {
    return path.map(function (part) {
      return "/" + String(part).replace(/~/g, "~0").replace(/\//g, "~1");
    }).join("");
  }

  function nameOf(path) {
    return "root" + path.map(function (part) { return "[" + part + "]"; }).join("");
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function fill(template, value) { return String(template).replace("{}", String(value)); }

  function isGiven(value) {
    return value !== undefined && !(Array.isArray(value) && value.length === 0);
  }

  function mount(element, options) {
    var data = element.dataset;
    var photoHandler = (options || {}).photos || null;
    var model = JSON.parse(data.form);
    var initial = JSON.parse(data.values || "{}");
    var text = JSON.parse(data.texts);
    var casePhotos = JSON.parse(data.photos || "[]");
    var boxes = {};
    var refreshers = [];
    var uid = 0;

    function box(field, path, labelFor) {
      var node = make("div", "form-field form-field-" + field.widget);
      node.dataset.field = path.join(".");
      node.dataset.pointer = pointerOf(path);
      if (field.label && field.widget !== "hidden") {
        var label = make(labelFor ? "label" : "p", "field-label", field.label);
        if (labelFor) { label.htmlFor = labelFor; }
        if (field.required) { label.appendChild(make("span", "required", " *")); }
        node.appendChild(label);
      }
      if (field.description && field.widget !== "hidden") {
        node.appendChild(make("p", "field-help muted", field.description));
      }
      boxes[pointerOf(path)] = node;
      return node;
    }

    function errorLine(node, path) {
      var line = make("p", "field-error");
      line.dataset.errorFor = path.join(".");
      line.setAttribute("role", "alert");
      line.hidden = true;
      node.appendChild(line);
    }

    // -- one control per widget; each returns {node, get} -------------------------------------------

    function scalarInput(field, path, value) {
      var id = "f" + (++uid) + "-" + path.join("-");
      var input;
      if (field.widget === "textarea") {
        input = make("textarea");
        input.rows = field.rows || 3;
      } else {
        input = make("input");
        input.type = { number: "number", date: "date", datetime: "datetime-local", hidden: "hidden" }[field.widget] ||
          "text";
        if (field.widget === "number") {
          input.inputMode = field.type === "integer" ? "numeric" : "decimal";
          input.step = field.type === "integer" ? "1" : "any";
        }
      }
      input.id = id;
      input.name = nameOf(path);
      if (field.placeholder) { input.placeholder = field.placeholder; }
      if (field.readonly) { input.readOnly = true; }
      if (value === undefined && field.default !== null && field.default !== undefined) { value = field.default; }
      if (value !== undefined && value !== null) {
        input.value = field.widget === "datetime" ? String(value).slice(0, 16) : String(value);
      }
      var node = box(field, path, id);
      node.appendChild(input);
      if (field.suggestions && field.suggestions.length) { node.appendChild(suggestionList(field, input)); }
      return {
        node: node,
        get: function () {
          var raw = input.value.trim() === "" ? "" : input.value;
          if (raw === "") { return undefined; }
          if (field.widget === "number") { return Number(raw); }
          if (field.widget === "datetime") { return withOffset(raw); }
          return raw;
        }
      };
    }

    function suggestionList(field, input) {
      // values to pick with one tap (a case_picker's cases); typing any other value stays possible
      var holder = make("div", "suggestions");
      holder.appendChild(make("p", "field-help muted", text.suggestions));
      var list = make("ul", "suggestion-list");
      list.setAttribute("aria-label", field.label);
      holder.appendChild(list);
      field.suggestions.forEach(function (suggestion) {
        var item = make("li");
        var pick = make("button", "small suggestion", suggestion.label);
        pick.type = "button";
        pick.dataset.value = suggestion.value;
        pick.addEventListener("click", function () {
          input.value = suggestion.value;
          input.dispatchEvent(new Event("input", { bubbles: true }));
          input.dispatchEvent(new Event("change", { bubbles: true }));
        });
        item.appendChild(pick);
        list.appendChild(item);
      });
      return holder;
    }

    function withOffset(local) {
      // datetime-local has no seconds nor zone; RFC 3339 (format date-time) needs both
      var minutes = -new Date(local).getTimezoneOffset();
      var sign = minutes >= 0 ? "+" : "-";
      var abs = Math.abs(minutes);
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      return (local.length === 16 ? local + ":00" : local) + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
    }

    function choiceInput(field, path, value) {
      var options = field.options || [];
      var index = options.map(function (o) { return JSON.stringify(o.value); }).indexOf(JSON.stringify(value));
      if (field.widget === "radio") {
        var node = box(field, path, null);
        var group = make("div", "choices");
        group.setAttribute("role", "radiogroup");
        group.setAttribute("aria-label", field.label);
        var inputs = options.map(function (option, i) {
          var label = make("label", "choice");
          var input = make("input");
          input.type = "radio";
          input.name = nameOf(path);
          input.value = String(option.value);
          input.checked = i === index;
          label.appendChild(input);
          label.appendChild(document.createTextNode(" " + option.label));
          group.appendChild(label);
          return input;
        });
        node.appendChild(group);
        return {
          node: node,
          get: function () {
            for (var i = 0; i < inputs.length; i++) { if (inputs[i].checked) { return options[i].value; } }
            return undefined;
          }
        };
      }
      var id = "f" + (++uid) + "-" + path.join("-");
      var select = make("select");
      select.id = id;
      select.name = nameOf(path);
      select.appendChild(make("option", null, text.choose));
      select.options[0].value = "";
      if (index < 0 && value !== undefined && value !== null) {
        // a value the list does not offer (e.g. a unit since deactivated): kept, the server judges it
        options = options.concat([{ value: value, label: String(value) }]);
        index = options.length - 1;
      }
      options.forEach(function (option) {
        var item = make("option", null, option.label);
        item.value = JSON.stringify(option.value); // typed: an enum of numbers stays numbers
        select.appendChild(item);
      });
      select.value = index >= 0 ? JSON.stringify(options[index].value) : "";
      var holder = box(field, path, id);
      holder.appendChild(select);
      return {
        node: holder,
        get: function () { return select.value === "" ? undefined : JSON.parse(select.value); }
      };
    }

    function listInput(field, path, value) {
      var node = box(field, path, null);
      var list = make("ol", "list-items");
      var rows = [];
      var add = make("button", "small", text.add);
      add.type = "button";

      function addRow(itemValue) {
        var row = make("li", "list-item");
        var index = rows.length;
        var control = render(field.item, path.concat([index]), itemValue);
        var remove = make("button", "small", text.remove);
        remove.type = "button";
        var entry = { row: row, get: control.get };
        remove.addEventListener("click", function () {
          rows.splice(rows.indexOf(entry), 1);
          row.remove();
          element.dispatchEvent(new Event("change"));
        });
        row.appendChild(control.node);
        row.appendChild(remove);
        list.appendChild(row);
        rows.push(entry);
      }

      (Array.isArray(value) ? value : []).forEach(addRow);
      add.addEventListener("click", function () { addRow(undefined); element.dispatchEvent(new Event("change")); });
      node.appendChild(list);
      node.appendChild(add);
      return {
        node: node,
        get: function () {
          var items = rows.map(function (r) { return r.get(); }).filter(function (v) { return v !== undefined; });
          return items.length ? items : undefined;
        }
      };
    }

    function photoInput(field, path, value) {
      // This case's photos of the allowed kinds to tick, and the camera to add more (uploaded at once).
      var id = "photo-" + path.join("-");
      var node = box(field, path, id);
      node.classList.add("photo-field");
      var picked = make("ul", "thumbs picked");
      var chosen = Array.isArray(value) ? value : [];
      var status = make("p", "muted upload-status");
      status.setAttribute("role", "status");

      function addPhoto(photo, checked) {
        var item = make("li");
        item.dataset.id = String(photo.id);
        var label = make("label", "photo-choice");
        var tick = make("input");
        tick.type = "checkbox";
        tick.checked = checked;
        tick.value = String(photo.id);
        var image = make("img");
        image.alt = (photo.label || "") + " #" + photo.id;
        label.appendChild(tick);
        if (photo.thumbnail) {
          image.src = photo.thumbnail;
          label.appendChild(image);
        } else { // its thumbnail is not made yet: a placeholder, never the full-size photo in its place
          label.appendChild(make("span", "thumb-pending muted", data.msgThumbnailPending || "…"));
        }
        if (photo.label) { label.appendChild(make("span", "muted", photo.label)); }
        item.appendChild(label);
        picked.appendChild(item);
        return item;
      }

      var api = {
        field: field,
        path: path,
        add: addPhoto,
        status: status,
        changed: function () { element.dispatchEvent(new Event("change")); }
      };

      casePhotos.forEach(function (photo) {
        if (field.kinds.indexOf(photo.kind) >= 0 || chosen.indexOf(photo.id) >= 0) {
          addPhoto(photo, chosen.indexOf(photo.id) >= 0);
        }
      });
      var input = make("input");
      input.type = "file";
      input.id = id;
      input.accept = "image/*";
      input.setAttribute("capture", "environment");
      input.multiple = true;
      var uploadUrl = field.upload_url || data.photoUrl; // an inspection's photos go to its item
      // the phone's offline queue (options.photos) sends the case's photos; a field with an address of its
      // own (an inspection item's photos) is sent here, directly
      var queued = photoHandler && !field.upload_url ? photoHandler : null;
      input.disabled = !uploadUrl;
      // the browser's own "Choose files" speaks the browser's language: a button of ours speaks the page's
      input.className = "file-input";
      var camera = make("label", "button small camera-button", text.add_photo);
      camera.htmlFor = id;
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files);
        if (queued) {
          queued.upload(files, api);
          input.value = "";
          return;
        }
        status.textContent = data.msgUploading || "";
        Promise.all(files.map(function (file) {
          var body = new FormData();
          body.append("file", file, file.name);
          var url = uploadUrl + "?kind=" + encodeURIComponent(field.upload_kind);
          return GridcaseFetch.send(url, { method: "POST", body: body }).then(function (answer) {
            if (answer.ok) { addPhoto({ id: answer.body.id, thumbnail: answer.body.thumbnail }, true); return null; }
            var details = answer.body.details || {};
            return file.name + ": " + (details.file || answer.body.message || answer.status);
          });
        })).then(function (problems) {
          problems = problems.filter(Boolean);
          status.textContent = problems.length ? (data.msgUploadFailed || "") + " " + problems.join("; ") : "";
          input.value = "";
          element.dispatchEvent(new Event("change"));
        }, function () { status.textContent = data.msgNetwork || ""; });
      });
      node.appendChild(picked);
      node.appendChild(input);
      if (uploadUrl) { node.appendChild(camera); }
      node.appendChild(status);
      if (queued) { queued.field(api); }
      return {
        node: node,
        get: function () {
          var ids = Array.prototype.map.call(picked.querySelectorAll("input:checked"), function (tick) {
            return /^\d+$/.test(tick.value) ? parseInt(tick.value, 10) : tick.value;
          });
          return ids.length ? ids : undefined;
        }
      };
    }

    function mapInput(field, path, value) {
      // an object of entries named by the user (a checklist's items when no campaign names them)
      var node = box(field, path, null);
      var list = make("ol", "list-items");
      var rows = [];
      var add = make("button", "small", text.add);
      add.type = "button";

      function addRow(key, entryValue) {
        var row = make("li", "list-item");
        var keyId = "f" + (++uid) + "-key";
        var keyLabel = make("label", "field-label", text.entry_key);
        keyLabel.htmlFor = keyId;
        var keyInput = make("input");
        keyInput.id = keyId;
        keyInput.name = nameOf(path.concat(["*key*"]));
        keyInput.value = key || "";
        var control = render(field.entry, path.concat([key || "*"]), entryValue);
        row.appendChild(keyLabel);
        row.appendChild(keyInput);
        row.appendChild(control.node);
        list.appendChild(row);
        rows.push({ key: keyInput, get: control.get });
      }

      Object.keys(value && typeof value === "object" ? value : {}).forEach(function (key) { addRow(key, value[key]); });
      add.addEventListener("click", function () { addRow("", undefined); element.dispatchEvent(new Event("change")); });
      node.appendChild(list);
      node.appendChild(add);
      return {
        node: node,
        get: function () {
          var out = {};
          rows.forEach(function (r) {
            var entry = r.get();
            if (r.key.value.trim() && entry !== undefined) { out[r.key.value.trim()] = entry; }
          });
          return Object.keys(out).length ? out : undefined;
        }
      };
    }

    function objectInput(field, path, value) {
      if (field.entry) { return mapInput(field, path, value); }
      var node = path.length ? box(field, path, null) : make("div", "form-fields");
      node.classList.add("form-object");
      var values = value && typeof value === "object" ? value : {};
      var controls = field.fields.map(function (child) {
        var control = render(child, path.concat([child.name]), values[child.name]);
        node.appendChild(control.node);
        return { field: child, control: control };
      });
      var conditional = {};
      field.rules.forEach(function (rule) {
        if (rule.kind !== "when") { return; }
        rule.require.forEach(function (name) {
          var child = field.fields.filter(function (f) { return f.name === name; })[0];
          if (child && !child.required) { (conditional[name] = conditional[name] || []).push(rule); }
        });
      });

      function holds(rule, current) {
        return Object.keys(rule["if"]).every(function (name) {
          return JSON.stringify(current[name]) === JSON.stringify(rule["if"][name]);
        });
      }

      function raw() {
        var out = {};
        controls.forEach(function (c) {
          var v = c.control.get();
          if (isGiven(v)) { out[c.field.name] = v; }
        });
        return out;
      }

      function shown(name, current) {
        return !conditional[name] || conditional[name].some(function (rule) { return holds(rule, current); });
      }

      refreshers.push(function () {
        var current = raw();
        controls.forEach(function (c) {
          var visible = shown(c.field.name, current);
          c.control.node.hidden = !visible;
          var mark = c.control.node.querySelector(".field-label .required");
          if (conditional[c.field.name] && visible && !mark) {
            c.control.node.querySelector(".field-label").appendChild(make("span", "required", " *"));
          }
        });
      });

      function get() {
        var current = raw();
        Object.keys(current).forEach(function (name) { if (!shown(name, current)) { delete current[name]; } });
        return Object.keys(current).length || !path.length ? current : undefined;
      }

      function check() {
        var current = get() || {};
        var problems = [];
        var at = function (name, message) { problems.push({ pointer: pointerOf(path.concat([name])), message: message }); };
        controls.forEach(function (c) {
          if (c.field.required && !isGiven(current[c.field.name])) { at(c.field.name, text.required); }
        });
        field.rules.forEach(function (rule) {
          if (rule.kind === "when" && holds(rule, current)) {
            rule.require.forEach(function (name) { if (!isGiven(current[name])) { at(name, text.required); } });
          } else if (rule.kind === "one_of" || rule.kind === "any_of") {
            var met = rule.groups.filter(function (group) {
              return group.every(function (name) { return isGiven(current[name]); });
            }).length;
            if (rule.kind === "one_of" ? met !== 1 : met < 1) {
              rule.groups.forEach(function (group) {
                group.forEach(function (name) { at(name, rule.message || text[rule.kind]); });
              });
            }
          } else if (rule.kind === "not_all") {
            if (rule.fields.every(function (name) { return isGiven(current[name]); })) {
              rule.fields.forEach(function (name) { at(name, rule.message || text.not_all); });
            }
          } else if (rule.kind === "depends" && isGiven(current[rule.field])) {
            rule.require.forEach(function (name) {
              if (!isGiven(current[name])) { at(name, fill(text.depends, rule.field)); }
            });
          }
        });
        return problems;
      }

      return { node: node, get: get, check: check };
    }

    function render(field, path, value) {
      var control;
      if (field.widget === "object") {
        control = objectInput(field, path, value);
      } else if (field.widget === "list") {
        control = listInput(field, path, value);
      } else if (field.widget === "photos") {
        control = photoInput(field, path, value);
      } else if (field.options) {
        control = choiceInput(field, path, value);
      } else {
        control = scalarInput(field, path, value);
      }
      errorLine(control.node, path);
      control.field = field;
      control.path = path;
      checks.push(control);
      return control;
    }

    // -- the page's checks: the server's keywords, the server's words ------------------------------

    var checks = [];

    function keywordProblem(field, value) {
      var rules = field.checks || {};
      var say = function (keyword, param) {
        return field.messages[keyword] || fill(text[keyword], param);
      };
      if (typeof value === "number" && (isNaN(value) || (field.type === "integer" && !Number.isInteger(value)))) {
        return field.messages.type || text[field.type === "integer" ? "integer" : "number"];
      }
      if (typeof value === "string") {
        var length = Array.from(value).length; // code points, as JSON Schema counts
        if (rules.minLength !== undefined && length < rules.minLength) { return say("minLength", rules.minLength); }
        if (rules.maxLength !== undefined && length > rules.maxLength) { return say("maxLength", rules.maxLength); }
        if (rules.pattern !== undefined && !new RegExp(rules.pattern).test(value)) {
          return say("pattern", rules.pattern);
        }
      }
      if (typeof value === "number") {
        if (rules.minimum !== undefined && value < rules.minimum) { return say("minimum", rules.minimum); }
        if (rules.maximum !== undefined && value > rules.maximum) { return say("maximum", rules.maximum); }
      }
      if (Array.isArray(value)) {
        if (rules.minItems !== undefined && value.length < rules.minItems) {
          return field.messages.minItems || (rules.minItems === 1 ? text.minItems1 : fill(text.minItems, rules.minItems));
        }
        if (rules.maxItems !== undefined && value.length > rules.maxItems) { return say("maxItems", rules.maxItems); }
        var seen = value.map(function (v) { return JSON.stringify(v); });
        if (rules.uniqueItems && seen.some(function (v, i) { return seen.indexOf(v) !== i; })) {
          return say("uniqueItems");
        }
      }
      if (value && typeof value === "object" && !Array.isArray(value) && rules.minProperties !== undefined &&
          Object.keys(value).length < rules.minProperties) {
        return say("minProperties", rules.minProperties);
      }
      return null;
    }

    function visible(node) {
      for (var n = node; n && n !== element; n = n.parentNode) { if (n.hidden) { return false; } }
      return true;
    }

    function check() {
      var problems = [];
      checks.forEach(function (control) {
        if (!visible(control.node)) { return; }
        var value = control.get();
        var problem = value === undefined ? null : keywordProblem(control.field, value);
        if (problem) { problems.push({ pointer: pointerOf(control.path), message: problem }); }
        if (control.check) { problems = problems.concat(control.check()); }
      });
      return problems;
    }

    // -- marking errors ------------------------------------------------------------------------------

    function clearErrors() {
      Array.prototype.forEach.call(element.querySelectorAll(".field-error"), function (line) {
        line.textContent = "";
        line.hidden = true;
      });
      Array.prototype.forEach.call(element.querySelectorAll(".has-error"), function (node) {
        node.classList.remove("has-error");
      });
    }

    /* Marks each problem's field (the nearest drawn one up its pointer); returns the messages no field took. */
    function showErrors(problems) {
      var left = [];
      problems.forEach(function (problem) {
        var pointer = problem.pointer || "";
        while (pointer && !boxes[pointer]) { pointer = pointer.slice(0, pointer.lastIndexOf("/")); }
        var node = boxes[pointer];
        if (!node) { left.push(problem.message); return; }
        node.hidden = false;
        node.classList.add("has-error");
        var line = node.querySelector(":scope > .field-error");
        if (line.textContent.indexOf(problem.message) < 0) {
          line.textContent = line.textContent ? line.textContent + " " + problem.message : problem.message;
        }
        line.hidden = false;
      });
      var first = element.querySelector(".field-error:not([hidden])");
      if (first && first.scrollIntoView) { first.scrollIntoView({ block: "center" }); }
      return left;
    }

    var top = render(model, [], initial);
    element.querySelector(".form-body").appendChild(top.node);

    function refresh() { refreshers.forEach(function (update) { update(); }); }
    function editing(event) {
      // a field being corrected loses its mark
      var node = event.target.closest && event.target.closest(".form-field.has-error");
      if (!node) { return; }
      node.classList.remove("has-error");
      var line = node.querySelector(":scope > .field-error");
      line.textContent = "";
      line.hidden = true;
    }

    element.addEventListener("change", refresh);
    element.addEventListener("input", refresh);
    element.addEventListener("input", editing);
    element.addEventListener("change", editing);
    refresh();

    return { value: top.get, check: check, showErrors: showErrors, clearErrors: clearErrors };
  }

  window.GridcaseForm = { mount: mount };
})();
