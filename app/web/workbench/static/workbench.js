/* The workbench's dispatch picker: choosing someone in the "someone else" list selects that row, and the
   button says whether the dispatch follows the engine's proposal. Everything works without it too. */
(function () {
  "use strict";

  var form = document.getElementById("dispatch-form");
  if (!form) { return; }
  var other = document.getElementById("other-handler");
  var otherRadio = document.getElementById("handler-other");
  var hours = document.getElementById("d-hours");
  var button = document.getElementById("dispatch-button");
  var proposed = document.getElementById("handler-picker").dataset.proposed;

  function label() {
    var checked = form.querySelector("input[name=handler]:checked");
    var asProposed = proposed && checked && checked.value === proposed && hours.value === hours.dataset.default;
    button.textContent = asProposed ? button.dataset.proposalLabel : button.dataset.otherLabel;
  }

  other.addEventListener("change", function () {
    if (other.value) { otherRadio.checked = true; }
    label();
  });
  form.addEventListener("change", label);
  hours.addEventListener("input", label);
})();
