/* bgremover page: what the download is made of. The cut-out's layers, its background (transparent, a colour,
   a photo, the original blurred), the drop shadow, trim and size; encode-worker.js blends, resizes and
   encodes off the main thread. Plain JavaScript, no build step; exposes window.BgCompose. */
(function () {
  "use strict";

  var LOW_SIDE = 1024;  // shadows and blurred backgrounds are made at most this big, then stretched (they are soft)
  var BLUR_SHARE = 0.02;  // the blurred original's blur radius, as a share of the image's longer side
  var TRIM_ALPHA = 8;  // alpha at or below this is not subject when trimming (as the server's trim)
  var EXTENSIONS = { PNG: "png", JPEG: "jpg", WEBP: "webp" };

  function canvas(width, height) {
    var c = document.createElement("canvas");
    c.width = width;
    c.height = height;
    return c;
  }

  // ---- the layers of one cut-out -----------------------------------------------------------------------
  /* From the uploaded file and the server's full-size transparent PNG: `image` (ImageData, straight RGBA:
     the subject's colours and the alpha that brushes change), `orig` (the original's RGBA, for Restore),
     `work` (a canvas showing `image`) and `original` (a canvas of the original, for comparison and blur). */
  async function loadLayers(originalBlob, cutBlob) {
    var cut = await createImageBitmap(cutBlob);
    var width = cut.width, height = cut.height;
    var scratch = canvas(width, height);
    var sctx = scratch.getContext("2d", { willReadFrequently: true });
    sctx.drawImage(cut, 0, 0);
    var image = sctx.getImageData(0, 0, width, height);
    cut.close();
    var source = await createImageBitmap(originalBlob);  // EXIF orientation applied, as the server does
    var original = canvas(width, height);
    original.getContext("2d").drawImage(source, 0, 0, width, height);
    source.close();
    sctx.clearRect(0, 0, width, height);
    sctx.drawImage(original, 0, 0);
    var orig = sctx.getImageData(0, 0, width, height).data;
    var work = canvas(width, height);
    work.getContext("2d").putImageData(image, 0, 0);
    return { width: width, height: height, image: image, orig: orig, work: work, original: original,
             edited: false, shadowCache: null, blurCache: null };
  }

  function lowSize(width, height) {
    var scale = Math.min(1, LOW_SIDE / Math.max(width, height));
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)),
             scale: scale };
  }

  /* The drop shadow at low resolution, for the whole frame: the subject's silhouette, moved by the offset,
     blurred and faded (the same parameters as the server's `shadow` option; page data from the engine). */
  function shadowLayer(layers, params) {
    if (layers.shadowCache) return layers.shadowCache;
    var size = lowSize(layers.width, layers.height);
    var side = Math.max(layers.width, layers.height) * size.scale;
    var silhouette = canvas(size.width, size.height);
    var sctx = silhouette.getContext("2d");
    sctx.drawImage(layers.work, 0, 0, size.width, size.height);
    sctx.globalCompositeOperation = "source-in";
    sctx.fillStyle = "#000";
    sctx.fillRect(0, 0, size.width, size.height);
    var out = canvas(size.width, size.height);
    var octx = out.getContext("2d");
    octx.filter = "blur(" + (params.blur * side).toFixed(2) + "px)";
    octx.globalAlpha = params.opacity;
    octx.drawImage(silhouette, params.offset_x * side, params.offset_y * side);
    layers.shadowCache = out;
    return out;
  }

  /* The original, blurred, at low resolution (a portrait look behind the subject). */
  function blurLayer(layers) {
    if (layers.blurCache) return layers.blurCache;
    var size = lowSize(layers.width, layers.height);
    var radius = BLUR_SHARE * Math.max(size.width, size.height);
    var out = canvas(size.width, size.height);
    var ctx = out.getContext("2d");
    ctx.drawImage(layers.original, 0, 0, size.width, size.height);  // the edges first, so the blur has no halo
    ctx.filter = "blur(" + radius.toFixed(2) + "px)";
    ctx.drawImage(layers.original, 0, 0, size.width, size.height);
    layers.blurCache = out;
    return out;
  }

  /* Where a photo goes to cover a width × height frame (centred, cropped, aspect ratio kept). */
  function coverRect(photoWidth, photoHeight, width, height) {
    var scale = Math.max(width / photoWidth, height / photoHeight);
    var w = photoWidth * scale, h = photoHeight * scale;
    return { x: (width - w) / 2, y: (height - h) / 2, width: w, height: h };
  }

  /* Paint the background (and the shadow) of a frame of the image into ctx, within rect (x, y, width, height). */
  function paintBackground(ctx, layers, look, rect) {
    var mode = look.mode;
    if (mode === "color") {
      ctx.fillStyle = look.color;
      ctx.fillRect(rect.x, rect.y, rect.width, rect.height);
    } else if (mode === "photo" && look.photo) {
      var c = coverRect(look.photo.width, look.photo.height, rect.width, rect.height);
      ctx.drawImage(look.photo, rect.x + c.x, rect.y + c.y, c.width, c.height);
    } else if (mode === "blur") {
      ctx.drawImage(blurLayer(layers), rect.x, rect.y, rect.width, rect.height);
    } else if (look.fill) {
      ctx.fillStyle = look.fill;
      ctx.fillRect(rect.x, rect.y, rect.width, rect.height);
    }
    if (look.shadow) ctx.drawImage(shadowLayer(layers, look.shadowParams), rect.x, rect.y, rect.width, rect.height);
  }

  // ---- trim and size -----------------------------------------------------------------------------------
  function trimBox(image, padding) {
    var data = image.data, width = image.width, height = image.height;
    var top = -1, bottom = -1, left = width, right = -1;
    for (var y = 0; y < height; y++) {
      var row = y * width * 4, first = -1, last = -1;
      for (var x = 0; x < width; x++) {
        if (data[row + x * 4 + 3] > TRIM_ALPHA) { if (first < 0) first = x; last = x; }
      }
      if (first < 0) continue;
      if (top < 0) top = y;
      bottom = y;
      if (first < left) left = first;
      if (last > right) right = last;
    }
    if (top < 0) return { x: 0, y: 0, width: width, height: height };
    var x0 = Math.max(0, left - padding), y0 = Math.max(0, top - padding);
    var x1 = Math.min(width, right + 1 + padding), y1 = Math.min(height, bottom + 1 + padding);
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  function fitSize(width, height, maxWidth, maxHeight) {
    var scale = 1;
    if (maxWidth) scale = Math.min(scale, maxWidth / width);
    if (maxHeight) scale = Math.min(scale, maxHeight / height);
    if (scale >= 1) return { width: width, height: height };
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  }

  /* The box of the image the download keeps, and its final size. */
  function outputGeometry(layers, out) {
    var box = out.trim ? trimBox(layers.image, out.trimPadding)
      : { x: 0, y: 0, width: layers.width, height: layers.height };
    var size = fitSize(box.width, box.height, out.maxWidth, out.maxHeight);
    return { box: box, width: size.width, height: size.height };
  }

  // ---- the download, made by encode-worker.js -----------------------------------------------------------
  var worker = null, jobs = new Map(), nextJob = 1;

  function encoder() {
    if (worker) return worker;
    worker = new Worker(window.BgCompose.workerUrl);
    worker.onmessage = function (e) {
      var job = jobs.get(e.data.id);
      jobs.delete(e.data.id);
      if (e.data.error) job.reject(new Error(e.data.error)); else job.resolve(e.data);
    };
    worker.onerror = function () {
      jobs.forEach(function (job) { job.reject(new Error("the encoder stopped")); });
      jobs.clear();
      worker = null;
    };
    return worker;
  }

  /* The subject's pixels in the kept box (a copy: the worker takes it) and the background's, or null. */
  function boxPixels(layers, look, box) {
    var src = layers.image.data, rowBytes = box.width * 4;
    var subject = new Uint8ClampedArray(rowBytes * box.height);
    for (var y = 0; y < box.height; y++) {
      var s = ((box.y + y) * layers.width + box.x) * 4;
      subject.set(src.subarray(s, s + rowBytes), y * rowBytes);
    }
    if (look.mode === "transparent" && !look.fill && !look.shadow) return { subject: subject, background: null };
    var frame = canvas(box.width, box.height);
    var fctx = frame.getContext("2d", { willReadFrequently: true });
    paintBackground(fctx, layers, look, { x: -box.x, y: -box.y, width: layers.width, height: layers.height });
    return { subject: subject, background: fctx.getImageData(0, 0, box.width, box.height).data };
  }

  /* The download: {blob, width, height, format}; `out` says format, quality, trim, size; `look` the background. */
  function render(layers, look, out) {
    var geometry = outputGeometry(layers, out);
    if (out.format === "JPEG" && look.mode === "transparent") look = Object.assign({}, look, { fill: "#ffffff" });
    var parts = boxPixels(layers, look, geometry.box);
    var id = nextJob++;
    var job = { id: id, subject: parts.subject.buffer, background: parts.background ? parts.background.buffer : null,
                boxWidth: geometry.box.width, boxHeight: geometry.box.height, width: geometry.width,
                height: geometry.height, format: out.format, quality: out.quality };
    var transfer = [job.subject].concat(job.background ? [job.background] : []);
    return new Promise(function (resolve, reject) {
      jobs.set(id, { resolve: resolve, reject: reject });
      encoder().postMessage(job, transfer);
    }).then(function (done) {
      return { blob: done.blob, width: done.width, height: done.height, format: out.format };
    });
  }

  window.BgCompose = {
    loadLayers: loadLayers, paintBackground: paintBackground, outputGeometry: outputGeometry, render: render,
    EXTENSIONS: EXTENSIONS, workerUrl: "encode-worker.js"  // app.js sets the versioned URL
  };
})();
