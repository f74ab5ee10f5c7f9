/* The versions page: a publish or rollback button opens its confirmation dialog (the form in it posts). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (!opener) { return; }
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      dialog.showModal();
    }
  });
})();
