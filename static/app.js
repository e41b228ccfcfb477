/* bgremover upload page: queue, options, progress, before/after comparison, downloads.
   Plain JavaScript, no build step, no inline script (the page runs under a strict CSP). */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var form = $("remover");
  var fileInput = $("file");
  var els = {
    dropzone: $("dropzone"), status: $("status"), progress: $("progress"), bar: $("progress-bar"),
    progressText: $("progress-text"), error: $("error"), errorTitle: $("error-title"),
    errorSolution: $("error-solution"), result: $("result"), before: $("before"), after: $("after"),
    slider: $("compare-slider"), handle: $("compare-handle"), compare: $("compare"),
    sliderLabel: document.querySelector("label[for=compare-slider]"), info: $("result-info"),
    download: $("download"), downloadAll: $("download-all"), queue: $("queue"), queueTitle: $("queue-title"),
    overlay: $("drop-overlay"), preset: $("preset"), format: $("format"), quality: $("quality"),
    qualityAuto: $("quality-auto"), qualityValue: $("quality-value"), bgColor: $("bg_color")
  };
  var apiKey = $("api-key");  // only on servers that require an API key (see README, "API keys")
  var KEY_STORE = "bgremover-api-key";
  var DEFAULT_QUALITY = JSON.parse(form.dataset.defaultQuality);
  var presets = {};
  var items = [];
  var current = null;
  var busy = false;
  var nextId = 1;

  document.documentElement.classList.add("js");
  fileInput.removeAttribute("required");

  // ---- formatting ---------------------------------------------------------------------------------------
  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  function formatWait(seconds) {
    if (!seconds || seconds < 1) return "a moment";
    if (seconds < 90) return Math.ceil(seconds) + " seconds";
    return Math.ceil(seconds / 60) + " minutes";
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
  function optionFields() {
    var data = new FormData();
    ["preset", "format", "max_width", "max_height", "trim_padding", "refine"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value !== "") data.append(name, value);
    });
    if (!els.quality.disabled) data.append("quality", els.quality.value);
    if ($("trim").checked) data.append("trim", "true");
    if (!els.bgColor.disabled) data.append("bg_color", els.bgColor.value);
    return data;
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
    var mode = form.querySelector("input[name=bg_mode]:checked").value;
    els.bgColor.disabled = mode !== "color";
  }

  function loadPresets() {
    fetch("/api/presets", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (table) {
        presets = table;
        Array.prototype.forEach.call(els.preset.options, function (option) {
          var p = presets[option.value];
          if (!p) return;
          var box = p.max_width ? p.max_width + "×" + p.max_height : "original size";
          option.textContent = option.value.replace(/_/g, " ") + " — " + p.format + " " + p.quality + ", " + box;
        });
        syncQuality();
      })
      .catch(function () { /* the server-rendered list still works */ });
  }

  function onOptionChange() {
    syncQuality();
    syncBackground();
    if (current && (current.state === "uploading" || current.state === "processing")) {
      current.stale = true;  // its request used the old options: run it again when it returns
    } else if (current && (current.state === "done" || current.state === "error")) {
      current.state = "queued";
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
                   originalUrl: URL.createObjectURL(file), result: null, error: null };
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
      if (items.length > 1) setStatus("All " + items.length + " images processed.", false);
      return;
    }
    document.body.dataset.state = "busy";
    process(item);
  }

  function stateText(item) {
    return { queued: "Waiting", uploading: "Uploading…", processing: "Removing background…",
             done: "Done", error: "Failed" }[item.state];
  }

  function renderQueue() {
    els.queue.textContent = "";
    els.queueTitle.hidden = items.length < 2;
    if (items.length < 2) { updateDownloadAll(); return; }
    items.forEach(function (item, index) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-current", item === current ? "true" : "false");
      button.setAttribute("aria-label", "Image " + (index + 1) + ": " + item.name + ", " + stateText(item));
      var img = document.createElement("img");
      img.src = item.result ? item.result.url : item.originalUrl;
      img.alt = "";
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = item.name;
      var state = document.createElement("span");
      state.className = "state" + (item.state === "error" ? " error" : "");
      state.textContent = stateText(item);
      button.append(img, name, state);
      button.addEventListener("click", function () { select(item); });
      li.append(button);
      els.queue.append(li);
    });
    updateDownloadAll();
  }

  function select(item) {
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
    setStatus("Uploading " + item.name + (position ? " (" + position + " more waiting)" : "") + "…", true);

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
      setStatus("Removing the background of " + item.name + "…", true);
      renderQueue();
    });
    xhr.addEventListener("load", function () { finish(item, xhr); });
    xhr.addEventListener("error", function () {
      fail(item, { error: "The server could not be reached", solution: "Check your connection and try again." });
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
      var ext = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" }[body.mimetype] || "png";
      item.result = {
        url: URL.createObjectURL(new Blob([buffer], { type: body.mimetype })), bytes: buffer,
        filename: stem(item.name) + "-no-bg." + ext, size: body.size, width: body.width, height: body.height,
        original: body.optimization.original_size, ratio: body.optimization.compression_ratio,
        format: body.optimization.format
      };
      item.state = "done";
      busy = false;
      if (item === current) showCurrent();
      setStatus("Background removed from " + item.name + ".", false);
      renderQueue();
      pump();
      return;
    }
    var error = { error: body.error || "Something went wrong (HTTP " + xhr.status + ")",
                  solution: body.solution || "Try again." };
    if (xhr.status === 429) {
      var wait = parseInt(xhr.getResponseHeader("Retry-After") || "0", 10);
      error.error = "You have reached the limit of images for now.";
      error.solution = "Try again in " + formatWait(wait) + ".";
    } else if (xhr.status === 413) {
      error.solution = body.solution || "Send a smaller file.";
    }
    fail(item, error);
  }

  function fail(item, error) {
    item.state = "error";
    item.error = error;
    busy = false;
    if (item === current) showCurrent();
    setStatus(item.name + ": " + error.error, false);
    renderQueue();
    pump();
  }

  // ---- showing the current image ------------------------------------------------------------------------
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
    var r = item.result;
    els.before.src = item.originalUrl;
    els.after.src = r.url;
    els.after.alt = "The image " + item.name + " with its background removed";
    els.before.alt = "The original image " + item.name;
    var smaller = r.original - r.size;
    var change = smaller >= 0 ? r.ratio + " smaller" : Math.round((-smaller / r.original) * 100) + "% larger";
    els.info.textContent = r.width + "×" + r.height + " " + r.format + " · " + formatBytes(r.original) +
      " → " + formatBytes(r.size) + ", " + change;
    els.download.href = r.url;
    els.download.setAttribute("download", r.filename);
    els.download.textContent = "Download " + r.filename;
    els.result.hidden = false;
    moveSlider();
  }

  function layoutCompare() {
    // a trimmed result has another shape than the original: then show the result alone
    var b = els.before, a = els.after;
    if (!b.naturalWidth || !a.naturalWidth) return;
    var same = Math.abs(b.naturalWidth / b.naturalHeight - a.naturalWidth / a.naturalHeight) < 0.02;
    els.compare.classList.toggle("single", !same);
    els.slider.hidden = !same;
    els.sliderLabel.hidden = !same;
  }

  function moveSlider() {
    var pct = Number(els.slider.value);
    els.before.style.clipPath = "inset(0 " + (100 - pct) + "% 0 0)";
    els.after.style.clipPath = "inset(0 0 0 " + pct + "%)";
    els.handle.style.left = pct + "%";
    els.slider.setAttribute("aria-valuetext", pct + "% original, " + (100 - pct) + "% result");
  }

  // ---- download all (a stored ZIP, built here) ----------------------------------------------------------
  var CRC_TABLE = (function () {
    var table = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(bytes) {
    var crc = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  }

  function zip(files) {
    var parts = [], central = [], offset = 0, encoder = new TextEncoder();
    files.forEach(function (f) {
      var name = encoder.encode(f.name), crc = crc32(f.bytes), size = f.bytes.length;
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

  function uniqueNames(done) {
    var seen = {};
    return done.map(function (item) {
      var name = item.result.filename;
      if (seen[name]) { name = name.replace(/(\.[^.]+)$/, "-" + (seen[name]++) + "$1"); } else { seen[name] = 1; }
      return { name: name, bytes: item.result.bytes };
    });
  }

  function updateDownloadAll() {
    var done = items.filter(function (i) { return i.state === "done"; });
    els.downloadAll.hidden = done.length < 2;
    els.downloadAll.textContent = "Download all " + done.length + " (ZIP)";
  }

  els.downloadAll.addEventListener("click", function () {
    var done = items.filter(function (i) { return i.state === "done"; });
    var url = URL.createObjectURL(zip(uniqueNames(done)));
    var a = document.createElement("a");
    a.href = url;
    a.download = "bgremover-results.zip";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
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

  // ---- options wiring -----------------------------------------------------------------------------------
  ["preset", "format", "refine", "trim", "quality-auto", "bg_color"].forEach(function (id) {
    $(id).addEventListener("change", onOptionChange);
  });
  ["max_width", "max_height", "trim_padding"].forEach(function (id) {
    $(id).addEventListener("change", function () { if ($(id).checkValidity()) onOptionChange(); });
  });
  Array.prototype.forEach.call(form.querySelectorAll("input[name=bg_mode]"), function (radio) {
    radio.addEventListener("change", onOptionChange);
  });
  els.quality.addEventListener("input", function () { els.qualityValue.textContent = els.quality.value; });
  els.quality.addEventListener("change", onOptionChange);
  els.slider.addEventListener("input", moveSlider);
  els.before.addEventListener("load", layoutCompare);
  els.after.addEventListener("load", layoutCompare);

  if (apiKey) {  // kept for this tab only (sessionStorage), never in the page's URL or a cookie
    try { apiKey.value = sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { /* storage blocked */ }
    apiKey.addEventListener("change", function () {
      try { sessionStorage.setItem(KEY_STORE, apiKey.value.trim()); } catch (e) { /* storage blocked */ }
    });
  }

  syncQuality();
  syncBackground();
  loadPresets();
})();
