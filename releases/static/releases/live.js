/* The Releases page without reloads: while an environment has work queued, its
   "now" block (what runs, the queue, the running deployment's last log lines) is fetched
   again every few seconds and swapped in place; polling stops when the queue is empty. */
(function () {
  "use strict";
  var EVERY_MS = 2000;

  function poll(block) {
    var url = block.getAttribute("data-live-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error(answer.status); }
        return answer.text().then(function (html) {
          if (block.innerHTML !== html) { block.innerHTML = html; }
          var active = answer.headers.get("X-Queue-Active") === "1";
          block.toggleAttribute("data-active", active);
          if (active) { window.setTimeout(function () { poll(block); }, EVERY_MS); }
        });
      })
      .catch(function () { window.setTimeout(function () { poll(block); }, EVERY_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".now[data-live-url]").forEach(function (block) {
      window.setTimeout(function () { poll(block); }, EVERY_MS);
    });
  });
})();
