/* The post editor loses nothing: leaving the page with changes not yet saved asks first
   (saving, or a workflow button, which saves the form's content with the action, does not);
   while the editor types, the text is kept every few seconds as an autosave (it does not
   touch the post), and offered back when the post is opened again after a crash. */
(function () {
  "use strict";
  var AUTOSAVE_EVERY_MS = 3000;
  var FIELDS = ["title", "excerpt", "body", "meta_title", "meta_description", "cover_image_alt"];

  function send(url, form, data) {
    data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    return fetch(url, { method: "POST", body: data, credentials: "same-origin" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("post_form");
    if (!form) { return; }
    var dirty = false;
    var changedSinceAutosave = false;
    var submitting = false;
    function touched() { dirty = true; changedSinceAutosave = true; }
    form.addEventListener("input", touched);
    form.addEventListener("change", touched);
    form.addEventListener("submit", function () { submitting = true; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    var target = document.getElementById("autosave");
    if (target) {
      window.setInterval(function () {
        if (!changedSinceAutosave || submitting) { return; }
        changedSinceAutosave = false;
        var data = new FormData();
        FIELDS.forEach(function (name) {
          var field = form.elements[name];
          if (field) { data.append(name, field.value); }
        });
        send(target.dataset.url, form, data).catch(function () { changedSinceAutosave = true; });
      }, AUTOSAVE_EVERY_MS);
    }

    var offer = document.getElementById("autosave-offer");
    var kept = document.getElementById("autosave-content");
    if (offer && kept) {
      document.getElementById("autosave-restore").addEventListener("click", function () {
        var content = JSON.parse(kept.textContent);
        Object.keys(content).forEach(function (name) {
          var field = form.elements[name];
          if (field) {
            field.value = content[name];
            // The Markdown editor (editor.js) shows the restored text too.
            field.dispatchEvent(new Event("lawvriksh:restored"));
          }
        });
        touched();
        offer.textContent = "Restored: review the text, then save.";
      });
      document.getElementById("autosave-discard").addEventListener("click", function () {
        var data = new FormData();
        data.append("_discard", "1");
        send(target.dataset.url, form, data).then(function () { offer.remove(); });
      });
    }
  });
})();
