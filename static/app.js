/* bgremover upload page: queue, options, progress, the touch-up editor (editor.js), downloads composed here
   (compose.js). Plain JavaScript, no build step, no inline script (the page runs under a strict CSP). */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var form = $("remover");
  var fileInput = $("file");
  var els = {
    dropzone: $("dropzone"), status: $("status"), progress: $("progress"), bar: $("progress-bar"),
    progressText: $("progress-text"), error: $("error"), errorTitle: $("error-title"),
    errorSolution: $("error-solution"), result: $("result"), slider: $("compare-slider"), info: $("result-info"),
    download: $("download"), downloadAll: $("download-all"), queue: $("queue"), queuePanel: $("queue-panel"),
    queueSummary: $("queue-summary"), queueOrder: $("queue-order"),
    overlay: $("drop-overlay"), preset: $("preset"), format: $("format"), quality: $("quality"),
    qualityAuto: $("quality-auto"), qualityValue: $("quality-value"), bgColor: $("bg_color"), bgPhoto: $("bg_photo"),
    shadow: $("shadow"), canvas: $("editor-canvas"), brushSize: $("brush-size"), brushSizeValue: $("brush-size-value"),
    brushSoft: $("brush-soft"), brushSoftValue: $("brush-soft-value"), undo: $("undo"), redo: $("redo")
  };
  var apiKey = $("api-key");  // only on servers that require an API key (see README, "API keys")
  var KEY_STORE = "bgremover-api-key";
  var DEFAULT_QUALITY = JSON.parse(form.dataset.defaultQuality);
  var MESSAGES = JSON.parse($("page-messages").textContent);  // in the page's language (pages.py)
  var UNSURE_BELOW = JSON.parse(form.dataset.unsureBelow);  // the server's threshold (segment.UNSURE_CERTAINTY)
  var THUMB_SIDE = 192;  // a queue thumbnail's longer side, in device pixels
  var presets = {};
  var items = [];
  var current = null;
  var busy = false;
  var nextId = 1;
  var orderChosen = false;  // once the visitor picks an order, the page no longer picks one for them
  var SHADOW_PARAMS = JSON.parse(els.shadow.dataset.params);
  window.BgCompose.workerUrl = form.dataset.encoder;
  var bgPhotoBitmap = null;
  var editor = new window.BgEditor(els.canvas, onEdit);

  document.documentElement.classList.add("js");
  fileInput.removeAttribute("required");

  // ---- formatting ---------------------------------------------------------------------------------------
  /* A message of the page's catalogue with its %(name)s filled in. */
  function t(key, values) {
    return MESSAGES[key].replace(/%\((\w+)\)s|%%/g, function (all, name) {
      return name ? String(values[name]) : "%";
    });
  }

  var numbers = new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 });

  function formatBytes(n) {
    if (n < 1024) return t("bytes", { n: numbers.format(n) });
    if (n < 1024 * 1024) return t("kilobytes", { n: numbers.format(Math.round(n / 1024)) });
    return t("megabytes", { n: numbers.format(Math.round(n / (1024 * 102.4)) / 10) });
  }

  function formatWait(seconds) {
    if (!seconds || seconds < 2) return t("moment");
    if (seconds < 90) return t("seconds", { n: Math.ceil(seconds) });
    return t("minutes", { n: Math.ceil(seconds / 60) });
  }

  function stem(name) {
    var base = (name || "image").replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
    base = base.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 100);
    return base || "image";
  }

  function setStatus(text, isBusy) {
    els.status.textContent = text;
    els.status.classList.toggle("busy", !!isBusy);
  }

  // ---- options ------------------------------------------------------------------------------------------
  /* What the server is asked for: the full-size transparent cut-out, refined as chosen. Everything else
     (format, quality, size, trim, background, shadow) is applied here to the edited image. */
  function optionFields() {
    var data = new FormData();
    var refine = form.elements.refine.value;
    if (refine) data.append("refine", refine);
    return data;
  }

  function intField(name) {
    var field = form.elements[name];
    return field.value.trim() !== "" && field.checkValidity() ? parseInt(field.value, 10) : null;
  }

  /* How the download is made from the edited image. */
  function outputSettings() {
    var preset = presets[els.preset.value];
    var format = effectiveFormat();
    var trimPadding = intField("trim_padding");
    return {
      format: format, quality: Number(els.quality.value),
      maxWidth: intField("max_width") || (preset && els.preset.value ? preset.max_width : null),
      maxHeight: intField("max_height") || (preset && els.preset.value ? preset.max_height : null),
      trim: $("trim").checked, trimPadding: trimPadding === null ? Number($("trim_padding").defaultValue) : trimPadding
    };
  }

  function bgMode() {
    return form.querySelector("input[name=bg_mode]:checked").value;
  }

  /* What is behind the subject, for the editor's view and the download. */
  function look() {
    var mode = bgMode();
    if (mode === "photo" && !bgPhotoBitmap) mode = "transparent";
    return { mode: mode, color: els.bgColor.value, photo: bgPhotoBitmap, shadow: els.shadow.checked,
             shadowParams: SHADOW_PARAMS };
  }

  function downloadName(item, layers, out) {
    var mode = look().mode, part;
    if (mode === "color") part = "-on-" + els.bgColor.value.replace("#", "");
    else if (mode === "photo") part = "-on-photo";
    else if (mode === "blur") part = "-on-blurred-original";
    else part = out.format === "JPEG" ? "-on-ffffff" : "-no-bg";
    return stem(item.name) + (layers && layers.edited ? "-edited" : "") + part +
      (els.shadow.checked ? "-shadow" : "") + "." + window.BgCompose.EXTENSIONS[out.format];
  }

  function effectiveFormat() {
    var preset = presets[els.preset.value];
    return els.format.value || (preset ? preset.format : "PNG");
  }

  function syncQuality() {
    var preset = presets[els.preset.value];
    els.quality.disabled = els.qualityAuto.checked;
    if (els.qualityAuto.checked) {
      var format = effectiveFormat();
      els.quality.value = preset && (!els.format.value || els.format.value === preset.format)
        ? preset.quality : DEFAULT_QUALITY[format];
    }
    els.qualityValue.textContent = els.quality.value;
  }

  function syncBackground() {
    var mode = bgMode();
    els.bgColor.disabled = false;  // only the form without JavaScript sends it (when "Colour" is chosen there)
    Array.prototype.forEach.call(document.querySelectorAll(".swatch"), function (swatch) {
      swatch.setAttribute("aria-pressed", String(mode === "color" && swatch.dataset.color === els.bgColor.value));
    });
  }

  function loadPresets() {
    fetch("/api/presets", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (table) {
        presets = table;
        Array.prototype.forEach.call(els.preset.options, function (option) {
          var p = presets[option.value];
          if (!p) return;
          var box = p.max_width ? p.max_width + "×" + p.max_height : t("original_size");
          option.textContent = option.value.replace(/_/g, " ") + " — " + p.format + " " + p.quality + ", " + box;
        });
        syncQuality();
      })
      .catch(function () { /* the server-rendered list still works */ });
  }

  /* An option applied here: redraw, and say what the download will be. */
  function onLookChange() {
    syncQuality();
    syncBackground();
    editor.setLook(look());
    describe();
  }

  /* Edge refinement is the server's: the image is processed again (and its touch-ups start over). */
  function onRefineChange() {
    if (current && (current.state === "uploading" || current.state === "processing")) {
      current.stale = true;  // its request used the old options: run it again when it returns
    } else if (current && (current.state === "done" || current.state === "error")) {
      current.state = "queued";
      current.reviewed = false;  // a new cut-out: it has not been looked at yet
      items.splice(items.indexOf(current), 1);
      items.unshift(current);
      renderQueue();
      pump();
    }
  }

  // ---- queue --------------------------------------------------------------------------------------------
  function enqueue(files) {
    // every file is sent as it is: the server judges the bytes and explains what is wrong
    var added = 0;
    Array.prototype.forEach.call(files, function (file) {
      var item = { id: nextId++, file: file, name: file.name || "pasted-image.png", state: "queued",
                   originalUrl: URL.createObjectURL(file), result: null, error: null, thumb: null,
                   reviewed: false, el: null };
      items.push(item);
      added++;
    });
    if (!added) return;
    select(items[items.length - added]);  // show what was just added
    els.dropzone.classList.add("compact");
    renderQueue();
    pump();
  }

  function pump() {
    if (busy) return;
    var item = null;
    for (var i = 0; i < items.length; i++) { if (items[i].state === "queued") { item = items[i]; break; } }
    if (!item) {
      document.body.dataset.state = "idle";
      if (items.length > 1) setStatus(t("all_processed", { n: items.length }), false);
      return;
    }
    document.body.dataset.state = "busy";
    process(item);
  }

  function stateText(item) {
    return t({ queued: "waiting", uploading: "uploading", processing: "processing", done: "done",
               error: "failed" }[item.state]);
  }

  /* Two decimals, cut rather than rounded: a certainty below the threshold never reads as the threshold. */
  function certaintyText(value) { return (Math.floor(value * 100 + 1e-9) / 100).toFixed(2); }

  /* Done, and less sure than the server's threshold: a person should look at it. */
  function isUnsure(item) {
    return item.state === "done" && item.result.certainty < UNSURE_BELOW;
  }

  /* The queue as shown: as added, or the unsure first (the least sure at the top), the rest as added. */
  function ordered() {
    if (els.queueOrder.value !== "unsure") return items.slice();
    var unsure = items.filter(isUnsure).sort(function (a, b) { return a.result.certainty - b.result.certainty; });
    return unsure.concat(items.filter(function (i) { return !isUnsure(i); }));
  }

  /* One entry's elements, made once and kept (rebuilding them would lose the keyboard focus). */
  function entryOf(item) {
    if (item.el) return item.el;
    var li = document.createElement("li");
    li.className = "entry";
    var button = document.createElement("button");
    button.type = "button";
    button.id = "entry-" + item.id;
    var thumb = document.createElement("span");
    thumb.className = "thumb";
    var img = document.createElement("img");
    img.alt = "";
    img.addEventListener("error", function () { img.hidden = true; });  // a file the browser cannot show
    img.addEventListener("load", function () { img.hidden = false; });
    thumb.append(img);
    var position = document.createElement("span");
    position.className = "visually-hidden";
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = item.name;
    var state = document.createElement("span");
    state.className = "state";
    var unsure = mark("unsure", "⚠", t("worth_a_look"));
    var reviewed = mark("reviewed", "✓", t("reviewed"));
    var tip = document.createElement("span");
    tip.className = "tip";
    tip.id = "tip-" + item.id;
    tip.setAttribute("role", "tooltip");
    button.append(position, thumb, name, state, unsure, reviewed);
    button.addEventListener("click", function () { select(item); });
    li.append(button, tip);
    item.el = { li: li, button: button, position: position, img: img, state: state, unsure: unsure,
                reviewed: reviewed, tip: tip };
    return item.el;
  }

  function mark(kind, icon, text) {
    var span = document.createElement("span");
    span.className = "mark " + kind;
    var glyph = document.createElement("span");
    glyph.className = "icon";
    glyph.setAttribute("aria-hidden", "true");
    glyph.textContent = icon;
    span.append(glyph, " " + text);
    return span;
  }

  function updateEntry(item, position) {
    var el = entryOf(item), unsure = isUnsure(item);
    el.li.classList.toggle("unsure", unsure);
    el.li.dataset.certainty = item.result && item.state === "done" ? String(item.result.certainty) : "";
    el.button.setAttribute("aria-current", item === current ? "true" : "false");
    el.position.textContent = t("position", { position: position, total: items.length });  // the name: what it shows
    var src = item.thumb || item.originalUrl;
    if (el.img.getAttribute("src") !== src) el.img.src = src;
    el.img.classList.toggle("cutout", !!item.thumb);
    el.state.textContent = stateText(item);
    el.state.classList.toggle("failed", item.state === "error");
    el.unsure.hidden = !unsure;
    el.reviewed.hidden = !item.reviewed;
    if (item.state === "done") {
      el.tip.textContent = t(unsure ? "certainty_unsure" : "certainty", {
        certainty: certaintyText(item.result.certainty), threshold: certaintyText(UNSURE_BELOW) });
      el.button.setAttribute("aria-describedby", el.tip.id);
    } else {
      el.tip.textContent = "";
      el.button.removeAttribute("aria-describedby");
    }
  }

  function renderQueue() {
    els.queuePanel.hidden = items.length < 2;
    if (items.length < 2) { updateDownloadAll(); return; }
    if (!orderChosen && items.some(isUnsure)) els.queueOrder.value = "unsure";
    var focused = document.activeElement;
    ordered().forEach(function (item, index) {
      updateEntry(item, index + 1);
      if (els.queue.children[index] !== item.el.li) els.queue.insertBefore(item.el.li, els.queue.children[index] || null);
    });
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus({ preventScroll: true });
    var unsure = items.filter(isUnsure).length, reviewed = items.filter(function (i) { return i.reviewed; }).length;
    var pending = items.filter(function (i) { return i.state !== "done" && i.state !== "error"; }).length;
    els.queueSummary.textContent = t("summary", { unsure: unsure, total: items.length }) +
      (reviewed ? t("summary_reviewed", { n: reviewed }) : "") + (pending ? t("summary_to_go", { n: pending }) : "");
    updateDownloadAll();
  }

  /* Open the next (step 1) or previous (−1) entry worth a look, in the order shown, from the current one. */
  function stepUnsure(step) {
    var shown = ordered(), n = shown.length, at = shown.indexOf(current);
    for (var k = 1; k <= n; k++) {
      var item = shown[at < 0 ? (step > 0 ? k - 1 : n - k) : (((at + step * k) % n) + n) % n];
      if (!isUnsure(item)) continue;
      select(item);
      item.el.button.focus();
      var all = shown.filter(isUnsure);
      setStatus(t("stepped", { index: all.indexOf(item) + 1, count: all.length, name: item.name,
                               certainty: certaintyText(item.result.certainty) }), false);
      return;
    }
    setStatus(t(items.some(function (i) { return i.state === "done"; }) ? "none_unsure" : "no_result"), false);
  }

  /* A small picture of the cut-out (of its touch-up, once it has one) for the queue. */
  function makeThumb(item) {
    var result = item.result, layers = item.layers && item.layers.edited ? item.layers : null;
    var source = layers ? Promise.resolve(layers.work) : createImageBitmap(result.blob);
    return source.then(function (picture) {
      var scale = Math.min(1, THUMB_SIDE / Math.max(picture.width, picture.height));
      var c = document.createElement("canvas");
      c.width = Math.max(1, Math.round(picture.width * scale));
      c.height = Math.max(1, Math.round(picture.height * scale));
      c.getContext("2d").drawImage(picture, 0, 0, c.width, c.height);
      if (picture.close) picture.close();
      return new Promise(function (resolve) { c.toBlob(resolve, "image/png"); });
    }).then(function (blob) {
      if (!blob || item.result !== result) return;
      if (item.thumb) URL.revokeObjectURL(item.thumb);
      item.thumb = URL.createObjectURL(blob);
      if (item.el) { item.el.img.src = item.thumb; item.el.img.classList.add("cutout"); }
    }).catch(function () { /* the original stays as the thumbnail */ });
  }

  var thumbTimer = 0;
  function refreshThumbSoon(item) {
    clearTimeout(thumbTimer);
    thumbTimer = setTimeout(function () { makeThumb(item); }, 400);
  }

  function select(item) {
    if (current && current !== item && current.layers && !current.layers.edited) current.layers = null;  // memory
    current = item;
    showCurrent();
    renderQueue();
  }

  // ---- one request --------------------------------------------------------------------------------------
  function process(item) {
    busy = true;
    item.state = "uploading";
    item.error = null;
    if (item === current) showCurrent();
    renderQueue();
    var position = items.filter(function (i) { return i.state === "queued"; }).length;
    setStatus(position ? t("uploading_more", { name: item.name, n: position }) : t("uploading_one", { name: item.name }),
      true);

    var data = optionFields();
    data.append("file", item.file, item.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/remove-background-preview");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    if (apiKey && apiKey.value.trim()) xhr.setRequestHeader("X-Api-Key", apiKey.value.trim());
    if (item === current) { els.progress.hidden = false; els.bar.value = 0; els.progressText.textContent = "0%"; }
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable || item !== current) return;
      var pct = Math.round((e.loaded / e.total) * 100);
      els.bar.value = pct;
      els.progressText.textContent = pct + "%";
    });
    xhr.upload.addEventListener("load", function () {
      item.state = "processing";
      if (item === current) { els.progress.hidden = true; }
      setStatus(t("removing", { name: item.name }), true);
      renderQueue();
    });
    xhr.addEventListener("load", function () { finish(item, xhr); });
    xhr.addEventListener("error", function () {
      fail(item, { error: t("unreachable"), solution: t("unreachable_solution") });
    });
    xhr.send(data);
  }

  function finish(item, xhr) {
    var body = xhr.response || {};
    if (item.stale) {
      item.stale = false;
      item.state = "queued";
      busy = false;
      pump();
      return;
    }
    if (xhr.status === 200 && body.success) {
      var bytes = atob(body.image);
      var buffer = new Uint8Array(bytes.length);
      for (var i = 0; i < bytes.length; i++) buffer[i] = bytes.charCodeAt(i);
      if (item.result) URL.revokeObjectURL(item.result.url);
      var blob = new Blob([buffer], { type: body.mimetype });
      item.result = { blob: blob, url: URL.createObjectURL(blob), size: body.size, width: body.width,
                      height: body.height, original: body.optimization.original_size,
                      ratio: body.optimization.compression_ratio, certainty: body.certainty };
      item.layers = null;  // a new cut-out: its touch-ups start over
      item.state = "done";
      makeThumb(item);
      busy = false;
      if (item === current) showCurrent();
      setStatus(t("removed", { name: item.name }), false);
      renderQueue();
      pump();
      return;
    }
    var error = { error: body.error || t("went_wrong", { status: xhr.status }),  // the API's own words: English
                  solution: body.solution || t("try_again") };
    if (xhr.status === 429) {
      var wait = parseInt(xhr.getResponseHeader("Retry-After") || "0", 10);
      error.error = t("limited");
      error.solution = t("limited_solution", { wait: formatWait(wait) });
    } else if (xhr.status === 413) {
      error.solution = body.solution || t("smaller_file");
    }
    fail(item, error);
  }

  function fail(item, error) {
    item.state = "error";
    item.error = error;
    busy = false;
    if (item === current) showCurrent();
    setStatus(t("item_error", { name: item.name, error: error.error }), false);
    renderQueue();
    pump();
  }

  // ---- showing and editing the current image -------------------------------------------------------------
  function showCurrent() {
    var item = current;
    if (!item) return;
    els.error.hidden = !item.error;
    if (item.error) {
      els.errorTitle.textContent = item.error.error;
      els.errorSolution.textContent = item.error.solution;
    }
    if (item.state !== "uploading") els.progress.hidden = true;
    if (!item.result) {
      els.result.hidden = true;
      return;
    }
    els.result.hidden = false;
    els.result.setAttribute("aria-busy", "true");
    els.canvas.setAttribute("aria-label", t(isUnsure(item) ? "canvas_unsure" : "canvas", {
      name: item.name, certainty: certaintyText(item.result.certainty) }));
    describe();
    if (!item.layers) document.body.dataset.editor = "loading";
    layersOf(item).then(function (layers) {
      if (item !== current || item.layers !== layers) return;
      editor.load(layers);
      editor.setLook(look());
      els.result.removeAttribute("aria-busy");
      describe();
      syncHistory();
      document.body.dataset.editor = "ready";
    }).catch(function () {
      setStatus(t("cannot_edit"), false);
    });
  }

  /* The item's editable layers, made once from the upload and the server's cut-out. */
  function layersOf(item) {
    if (item.layers) return Promise.resolve(item.layers);
    var result = item.result;
    return window.BgCompose.loadLayers(item.file, result.blob).then(function (layers) {
      if (item.result === result) item.layers = layers;
      return layers;
    });
  }

  /* Say what the download will be: its size and format, and what the server's cut-out cost. */
  function describe() {
    var item = current;
    if (!item || !item.result) return;
    var r = item.result, out = outputSettings(), size = { width: r.width, height: r.height };
    if (item.layers) size = window.BgCompose.outputGeometry(item.layers, out);
    var smaller = r.original - r.size;
    var change = smaller >= 0 ? t("smaller", { ratio: r.ratio })
      : t("larger", { percent: Math.round((-smaller / r.original) * 100) });
    els.info.textContent = t(item.layers && item.layers.edited ? "info_edited" : "info", {
      size: size.width + "×" + size.height, format: out.format, original: formatBytes(r.original),
      cutout: formatBytes(r.size), change: change });
    els.download.textContent = t("download_named", { name: downloadName(item, item.layers, out) });
  }

  function onEdit(edited) {
    syncHistory();
    describe();
    if (edited && current) {
      if (!current.reviewed) { current.reviewed = true; renderQueue(); }
      refreshThumbSoon(current);
    }
  }

  function syncHistory() {
    els.undo.disabled = !editor.undoStack.length;
    els.redo.disabled = !editor.redoStack.length;
  }

  function setTool(tool) {
    editor.tool = tool;
    ["erase", "restore", "pan"].forEach(function (name) {
      $("tool-" + name).setAttribute("aria-pressed", String(name === tool));
    });
    els.canvas.dataset.tool = tool;
  }

  /* The download of one item: its layers (made for the occasion if need be), composed and encoded here. */
  function renderItem(item) {
    return layersOf(item).then(function (layers) {
      var out = outputSettings();
      return window.BgCompose.render(layers, look(), out).then(function (rendered) {
        rendered.filename = downloadName(item, layers, out);
        if (item !== current && !layers.edited) item.layers = null;
        return rendered;
      });
    });
  }

  function save(blob, filename) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  els.download.addEventListener("click", function () {
    var item = current;
    if (!item || !item.result) return;
    els.download.setAttribute("aria-disabled", "true");
    setStatus(t("preparing"), true);
    renderItem(item).then(function (rendered) {
      save(rendered.blob, rendered.filename);
      setStatus(t("saved", { name: rendered.filename, size: formatBytes(rendered.blob.size) }), false);
    }).catch(function () {
      setStatus(t("download_failed"), false);
    }).finally(function () { els.download.removeAttribute("aria-disabled"); });
  });

  // ---- download all (a stored ZIP, built here) ----------------------------------------------------------
  function zip(files) {
    var parts = [], central = [], offset = 0, encoder = new TextEncoder();
    files.forEach(function (f) {
      var name = encoder.encode(f.name), crc = CRC32.of(f.bytes), size = f.bytes.length;
      var local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true); local.setUint16(4, 20, true); local.setUint16(6, 0x0800, true);
      local.setUint32(14, crc, true); local.setUint32(18, size, true); local.setUint32(22, size, true);
      local.setUint16(26, name.length, true);
      parts.push(local.buffer, name, f.bytes);
      var entry = new DataView(new ArrayBuffer(46));
      entry.setUint32(0, 0x02014b50, true); entry.setUint16(4, 20, true); entry.setUint16(6, 20, true);
      entry.setUint16(8, 0x0800, true); entry.setUint32(16, crc, true); entry.setUint32(20, size, true);
      entry.setUint32(24, size, true); entry.setUint16(28, name.length, true); entry.setUint32(42, offset, true);
      central.push(entry.buffer, name);
      offset += 30 + name.length + size;
    });
    var centralSize = central.reduce(function (n, p) { return n + p.byteLength; }, 0);
    var end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true); end.setUint16(8, files.length, true); end.setUint16(10, files.length, true);
    end.setUint32(12, centralSize, true); end.setUint32(16, offset, true);
    return new Blob(parts.concat(central, [end.buffer]), { type: "application/zip" });
  }

  function uniqueName(seen, name) {
    if (seen[name]) return name.replace(/(\.[^.]+)$/, "-" + (seen[name]++) + "$1");
    seen[name] = 1;
    return name;
  }

  function updateDownloadAll() {
    var done = items.filter(function (i) { return i.state === "done"; });
    els.downloadAll.hidden = done.length < 2;
    els.downloadAll.textContent = t("download_all", { n: done.length });
  }

  els.downloadAll.addEventListener("click", function () {
    var done = items.filter(function (i) { return i.state === "done"; });
    var files = [], seen = {};
    setStatus(t("preparing_zip"), true);
    done.reduce(function (chain, item) {  // one at a time: each big image's pixels are freed before the next
      return chain.then(function () { return renderItem(item); }).then(function (rendered) {
        return rendered.blob.arrayBuffer().then(function (buffer) {
          files.push({ name: uniqueName(seen, rendered.filename), bytes: new Uint8Array(buffer) });
        });
      });
    }, Promise.resolve()).then(function () {
      save(zip(files), "bgremover-results.zip");
      setStatus(t("saved_zip", { n: files.length, name: "bgremover-results.zip" }), false);
    }).catch(function () { setStatus(t("zip_failed"), false); });
  });

  // ---- input: picker, drop anywhere, paste --------------------------------------------------------------
  fileInput.addEventListener("change", function () {
    enqueue(fileInput.files);
    fileInput.value = "";
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); fileInput.click(); });

  var dragDepth = 0;
  document.addEventListener("dragenter", function (e) {
    if (!e.dataTransfer || Array.prototype.indexOf.call(e.dataTransfer.types, "Files") === -1) return;
    dragDepth++;
    els.overlay.hidden = false;
  });
  document.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) els.overlay.hidden = true;
  });
  document.addEventListener("dragover", function (e) { e.preventDefault(); });
  document.addEventListener("drop", function (e) {
    e.preventDefault();
    dragDepth = 0;
    els.overlay.hidden = true;
    if (e.dataTransfer && e.dataTransfer.files.length) enqueue(e.dataTransfer.files);
  });
  document.addEventListener("paste", function (e) {
    var files = e.clipboardData ? e.clipboardData.files : [];
    if (files && files.length) { e.preventDefault(); enqueue(files); }
  });

  // ---- the queue's order and its keys ------------------------------------------------------------------
  els.queueOrder.addEventListener("change", function () { orderChosen = true; renderQueue(); });
  $("next-unsure").addEventListener("click", function () { stepUnsure(1); });
  $("prev-unsure").addEventListener("click", function () { stepUnsure(-1); });
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || items.length < 2) return;
    if (e.code === "KeyN") { e.preventDefault(); stepUnsure(1); }
    else if (e.code === "KeyP") { e.preventDefault(); stepUnsure(-1); }
  });
  document.addEventListener("keydown", function (e) {  // Escape hides an entry's certainty tip (it stays in its label)
    if (e.key === "Escape") document.body.classList.add("tips-hidden");
  });
  document.addEventListener("focusin", function () { document.body.classList.remove("tips-hidden"); });
  document.addEventListener("pointermove", function () { document.body.classList.remove("tips-hidden"); });

  // ---- options and editor wiring -----------------------------------------------------------------------
  $("refine").addEventListener("change", onRefineChange);
  ["preset", "format", "trim", "quality-auto", "bg_color", "shadow"].forEach(function (id) {
    $(id).addEventListener("change", onLookChange);
  });
  ["max_width", "max_height", "trim_padding"].forEach(function (id) {
    $(id).addEventListener("change", function () { if ($(id).checkValidity()) onLookChange(); });
  });
  Array.prototype.forEach.call(form.querySelectorAll("input[name=bg_mode]"), function (radio) {
    radio.addEventListener("change", function () {
      if (radio.value === "photo" && !bgPhotoBitmap) els.bgPhoto.click();
      onLookChange();
    });
  });
  function chooseColor(value) {
    els.bgColor.value = value;
    form.querySelector("input[name=bg_mode][value=color]").checked = true;
    onLookChange();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".swatch"), function (swatch) {
    swatch.style.backgroundColor = swatch.dataset.color;  // set here: the CSP allows no inline style
    swatch.addEventListener("click", function () { chooseColor(swatch.dataset.color); });
  });
  els.bgColor.addEventListener("input", function () { chooseColor(els.bgColor.value); });
  els.bgPhoto.addEventListener("change", function () {
    var file = els.bgPhoto.files[0];
    if (!file) return;
    createImageBitmap(file).then(function (bitmap) {
      if (bgPhotoBitmap) bgPhotoBitmap.close();
      bgPhotoBitmap = bitmap;
      form.querySelector("input[name=bg_mode][value=photo]").checked = true;
      onLookChange();
    }).catch(function () { setStatus(t("bad_photo"), false); });
  });
  els.quality.addEventListener("input", function () { els.qualityValue.textContent = els.quality.value; });
  els.quality.addEventListener("change", onLookChange);
  els.slider.addEventListener("input", function () {
    editor.compare = Number(els.slider.value);
    els.slider.setAttribute("aria-valuetext", t("compare_value", { n: els.slider.value }));
    editor.redraw();
  });
  ["erase", "restore", "pan"].forEach(function (tool) {
    $("tool-" + tool).addEventListener("click", function () { setTool(tool); });
  });
  function syncBrush() {
    editor.size = Number(els.brushSize.value);
    editor.soft = Number(els.brushSoft.value) / 100;
    els.brushSizeValue.textContent = els.brushSize.value;
    els.brushSoftValue.textContent = els.brushSoft.value + "%";
  }
  els.brushSize.addEventListener("input", syncBrush);
  els.brushSoft.addEventListener("input", syncBrush);
  els.undo.addEventListener("click", function () { editor.undo(); });
  els.redo.addEventListener("click", function () { editor.redo(); });
  $("zoom-in").addEventListener("click", function () { editor.zoomAt(1.25); });
  $("zoom-out").addEventListener("click", function () { editor.zoomAt(0.8); });
  $("zoom-fit").addEventListener("click", function () { editor.fit(); });
  document.addEventListener("keydown", function (e) {
    if (!(e.ctrlKey || e.metaKey) || els.result.hidden) return;
    var t = e.target;
    if (t && (t.isContentEditable || (t.tagName === "INPUT" && /^(text|password|number|search)$/.test(t.type)))) return;
    var key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { e.preventDefault(); editor.undo(); }
    else if ((key === "z" && e.shiftKey) || key === "y") { e.preventDefault(); editor.redo(); }
  });

  if (apiKey) {  // kept for this tab only (sessionStorage), never in the page's URL or a cookie
    try { apiKey.value = sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { /* storage blocked */ }
    apiKey.addEventListener("change", function () {
      try { sessionStorage.setItem(KEY_STORE, apiKey.value.trim()); } catch (e) { /* storage blocked */ }
    });
  }

  syncQuality();
  syncBackground();
  syncBrush();
  setTool("erase");
  loadPresets();
})();
