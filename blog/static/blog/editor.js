/* The post body's Markdown editor (EasyMDE, vendored) with a live preview beside it: the
   server renders the text with the public site's pipeline and the preview shows it with the
   public stylesheet. Word count and reading time follow the text. Images dropped or pasted
   into the editor, or picked with the toolbar button, are uploaded to the media library and
   inserted as Markdown. The textarea stays the form's field (unsaved.js watches it). */
(function () {
  "use strict";
  var PREVIEW_DELAY_MS = 300;

  function csrfToken() {
    var field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, data) {
    data.append("csrfmiddlewaretoken", csrfToken());
    return fetch(url, { method: "POST", body: data, credentials: "same-origin" }).then(
      function (response) {
        return response.json().then(function (json) {
          if (!response.ok) { throw new Error(json.detail || "The server refused it."); }
          return json;
        });
      }
    );
  }

  function button(name, text, title, action) {
    return { name: name, text: text, title: title, action: action, className: "lv-" + name };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var config = document.getElementById("editor-config");
    var textarea = document.getElementById("id_body");
    if (!config || !textarea || !window.EasyMDE) { return; }
    var E = window.EasyMDE;
    var status = document.createElement("p");
    status.className = "editor-status";
    status.setAttribute("aria-live", "polite");
    var words = document.createElement("span");
    var uploadState = document.createElement("span");
    status.append(words, " ", uploadState);

    var editor = new E({
      element: textarea,
      autoDownloadFontAwesome: false,
      spellChecker: false,
      nativeSpellcheck: true,
      forceSync: true,
      status: false,
      minHeight: "420px",
      uploadImage: true,
      imageAccept: "image/png, image/jpeg, image/gif, image/webp",
      imageUploadFunction: function (file, onSuccess, onError) {
        var data = new FormData();
        data.append("image", file, file.name);
        uploadState.textContent = "Uploading " + file.name + "…";
        uploadState.className = "";
        post(config.dataset.uploadUrl, data).then(function (image) {
          // EasyMDE inserts ![](url); the alt text is added in the library, or here by hand.
          uploadState.textContent = "Uploaded " + file.name + ". Describe it (alt text) before publishing.";
          onSuccess(image.url);
        }).catch(function (error) {
          uploadState.textContent = error.message;
          uploadState.className = "upload-error";
          onError(error.message);
        });
      },
      toolbar: [
        button("bold", "B", "Bold (Ctrl-B)", E.toggleBold),
        button("italic", "I", "Italic (Ctrl-I)", E.toggleItalic),
        button("heading", "H", "Heading", E.toggleHeadingSmaller),
        "|",
        button("quote", "❝", "Quote", E.toggleBlockquote),
        button("unordered-list", "•", "Bulleted list", E.toggleUnorderedList),
        button("ordered-list", "1.", "Numbered list", E.toggleOrderedList),
        button("code", "</>", "Code", E.toggleCodeBlock),
        "|",
        button("link", "Link", "Insert a link", E.drawLink),
        button("upload-image", "Image", "Upload an image (or drop one into the text)",
          E.drawUploadedImage),
        button("table", "Table", "Insert a table", E.drawTable),
        "|",
        button("undo", "↶", "Undo", E.undo),
        button("redo", "↷", "Redo", E.redo),
      ],
    });

    // Side by side: the editor, then the preview pane.
    var container = editor.codemirror.getWrapperElement().closest(".EasyMDEContainer");
    var split = document.createElement("div");
    split.className = "editor-split";
    var editorPane = document.createElement("div");
    editorPane.className = "editor-pane";
    var previewPane = document.createElement("div");
    previewPane.className = "preview-pane";
    var frame = document.createElement("iframe");
    frame.title = "Preview, as readers will see it";
    frame.id = "body-preview";
    container.parentNode.insertBefore(split, container);
    editorPane.append(container, status);
    previewPane.append(frame);
    split.append(editorPane, previewPane);

    var timer = null;
    var sent = 0;
    function renderPreview() {
      var ticket = ++sent;
      var data = new FormData();
      data.append("body", editor.value());
      post(config.dataset.renderUrl, data).then(function (result) {
        if (ticket !== sent) { return; }  // a newer text is on its way
        words.textContent = result.words + " words · " + result.reading_minutes + " min read";
        var doc = "<!doctype html><html><head><meta charset='utf-8'>" +
          "<link rel='stylesheet' href='" + config.dataset.stylesheet + "'></head>" +
          "<body><main><article>" + result.html + "</article></main></body></html>";
        frame.srcdoc = doc;
        frame.dataset.rendered = String(ticket);
      }).catch(function (error) { words.textContent = "Preview unavailable: " + error.message; });
    }
    editor.codemirror.on("change", function () {
      // The textarea is the form's field: tell the page something was typed.
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      window.clearTimeout(timer);
      timer = window.setTimeout(renderPreview, PREVIEW_DELAY_MS);
    });
    // unsaved.js puts an autosaved text back into the textarea: show it in the editor.
    textarea.addEventListener("lawvriksh:restored", function () {
      editor.value(textarea.value);
    });
    renderPreview();
  });
})();
