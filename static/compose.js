/* bgremover page: what the download is made of. The cut-out's layers, its background (transparent, a colour,
   a photo, the original blurred), the drop shadow, trim and size, then PNG (encoded here, exact) or JPEG/WEBP.
   Plain JavaScript, no build step; exposes window.BgCompose. */
(function () {
  "use strict";

  var LOW_SIDE = 1024;  // shadows and blurred backgrounds are made at most this big, then stretched (they are soft)
  var BLUR_SHARE = 0.02;  // the blurred original's blur radius, as a share of the image's longer side
  var TRIM_ALPHA = 8;  // alpha at or below this is not subject when trimming (as the server's trim)
  var MIMETYPES = { PNG: "image/png", JPEG: "image/jpeg", WEBP: "image/webp" };
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

  // ---- composing ---------------------------------------------------------------------------------------
  /* Straight-alpha RGBA of the download at full resolution, before resizing: the subject over its background. */
  function composePixels(layers, look, box) {
    var src = layers.image.data, width = layers.width;
    var out = new ImageData(box.width, box.height);
    var dst = out.data;
    var plain = look.mode === "transparent" && !look.fill && !look.shadow;
    var bg = null;
    if (!plain) {
      var frame = canvas(box.width, box.height);
      var fctx = frame.getContext("2d", { willReadFrequently: true });
      paintBackground(fctx, layers, look, { x: -box.x, y: -box.y, width: layers.width, height: layers.height });
      bg = fctx.getImageData(0, 0, box.width, box.height).data;
    }
    for (var y = 0; y < box.height; y++) {
      var s = ((box.y + y) * width + box.x) * 4, d = y * box.width * 4;
      if (plain) { dst.set(src.subarray(s, s + box.width * 4), d); continue; }
      for (var x = 0; x < box.width; x++, s += 4, d += 4) {
        var a = src[s + 3];
        if (a === 255) { dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]; dst[d + 3] = 255; continue; }
        var ba = bg[d + 3] * (255 - a) / 255;  // the background's share, over what the subject leaves
        var oa = a + ba;
        if (oa <= 0) { dst[d] = dst[d + 1] = dst[d + 2] = dst[d + 3] = 0; continue; }
        dst[d] = (src[s] * a + bg[d] * ba) / oa;
        dst[d + 1] = (src[s + 1] * a + bg[d + 1] * ba) / oa;
        dst[d + 2] = (src[s + 2] * a + bg[d + 2] * ba) / oa;
        dst[d + 3] = oa;
      }
    }
    return out;
  }

  function resized(pixels, width, height) {
    if (pixels.width === width && pixels.height === height) return pixels;
    var from = canvas(pixels.width, pixels.height);
    from.getContext("2d").putImageData(pixels, 0, 0);
    var to = canvas(width, height);
    var ctx = to.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(from, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height);
  }

  /* The download: {blob, width, height, format}; `out` says format, quality, trim, size; `look` the background. */
  async function render(layers, look, out) {
    var geometry = outputGeometry(layers, out);
    if (out.format === "JPEG" && look.mode === "transparent") look = Object.assign({}, look, { fill: "#ffffff" });
    var pixels = resized(composePixels(layers, look, geometry.box), geometry.width, geometry.height);
    var blob;
    if (out.format === "PNG") {
      blob = await encodePng(pixels);
    } else {
      var c = canvas(pixels.width, pixels.height);
      c.getContext("2d").putImageData(pixels, 0, 0);
      blob = await new Promise(function (resolve) {
        c.toBlob(resolve, MIMETYPES[out.format], out.quality / 100);
      });
    }
    return { blob: blob, width: pixels.width, height: pixels.height, format: out.format };
  }

  // ---- PNG (exact straight alpha, which a canvas's premultiplied pixels would round) -----------------------
  var CRC_TABLE = (function () {
    var table = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(bytes, start) {
    var crc = start === undefined ? 0xffffffff : start;
    for (var i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return crc;
  }

  function chunk(type, data) {
    var head = new Uint8Array(8);
    var view = new DataView(head.buffer);
    view.setUint32(0, data.length);
    for (var i = 0; i < 4; i++) head[4 + i] = type.charCodeAt(i);
    var tail = new Uint8Array(4);
    var crc = crc32(data, crc32(head.subarray(4)));
    new DataView(tail.buffer).setUint32(0, (crc ^ 0xffffffff) >>> 0);
    return [head, data, tail];
  }

  async function deflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  /* RGBA (no colour where fully transparent), or RGB when every pixel is opaque; each row with the "Up" filter,
     compressed by the browser's zlib. */
  async function encodePng(pixels) {
    var width = pixels.width, height = pixels.height, src = pixels.data;
    var opaque = true;
    for (var i = 3; i < src.length; i += 4) { if (src[i] !== 255) { opaque = false; break; } }
    var channels = opaque ? 3 : 4, stride = width * channels;
    var raw = new Uint8Array((stride + 1) * height);
    var row = new Uint8Array(stride), previous = new Uint8Array(stride);
    for (var y = 0; y < height; y++) {
      var s = y * width * 4;
      if (opaque) {
        for (var x = 0, d = 0; x < width; x++, s += 4, d += 3) { row[d] = src[s]; row[d + 1] = src[s + 1]; row[d + 2] = src[s + 2]; }
      } else {
        row.set(src.subarray(s, s + stride));
        for (var c = 3; c < stride; c += 4) { if (row[c] === 0) row[c - 3] = row[c - 2] = row[c - 1] = 0; }  // smaller
      }
      var o = y * (stride + 1);
      raw[o] = 2;  // filter: Up
      for (var k = 0; k < stride; k++) raw[o + 1 + k] = (row[k] - previous[k]) & 0xff;
      var t = previous; previous = row; row = t;
    }
    var header = new Uint8Array(13);
    var view = new DataView(header.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    header[8] = 8;  // bits per channel
    header[9] = opaque ? 2 : 6;  // RGB or RGBA
    var signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
    var parts = [signature].concat(chunk("IHDR", header), chunk("IDAT", await deflate(raw)),
      chunk("IEND", new Uint8Array(0)));
    return new Blob(parts, { type: "image/png" });
  }

  window.BgCompose = {
    loadLayers: loadLayers, paintBackground: paintBackground, outputGeometry: outputGeometry, render: render,
    encodePng: encodePng, crc32: function (bytes) { return (crc32(bytes) ^ 0xffffffff) >>> 0; },
    MIMETYPES: MIMETYPES, EXTENSIONS: EXTENSIONS
  };
})();
