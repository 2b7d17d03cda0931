// The channel form shows only the settings of the chosen kind: rows whose inputs carry
// data-kinds="web app" are hidden for other kinds, and a section with nothing left is hidden too.
(function () {
  "use strict";
  function apply() {
    var select = document.getElementById("id_kind");
    if (!select) return;
    var kind = select.value;
    document.querySelectorAll("[data-kinds]").forEach(function (input) {
      var row = input.closest(".form-row");
      if (row) row.hidden = kind !== "" && input.getAttribute("data-kinds").split(" ").indexOf(kind) < 0;
    });
    document.querySelectorAll("fieldset.module").forEach(function (set) {
      var rows = set.querySelectorAll(".form-row");
      if (!rows.length) return;
      set.hidden = Array.prototype.every.call(rows, function (row) { return row.hidden; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_kind");
    if (select) select.addEventListener("change", apply);
    apply();
  });
})();
