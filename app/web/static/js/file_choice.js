/* A file input drawn as our own button (the browser's "Choose File" speaks the browser's language, not the
   page's): the chosen files' names are shown next to it. <input class="file-input" data-names="#id"> */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("input.file-input[data-names]"), function (input) {
    var names = document.querySelector(input.dataset.names);
    input.addEventListener("change", function () {
      names.textContent = Array.prototype.map.call(input.files, function (file) { return file.name; }).join(", ");
    });
  });
})();
