/* The post editor loses nothing by accident: leaving the page (a link, reload, closing the
   tab) with changes not yet saved asks first. Saving, or a workflow button (which saves the
   form's content with the action), does not ask. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("post_form");
    if (!form) { return; }
    var dirty = false;
    var submitting = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function () { submitting = true; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  });
})();
