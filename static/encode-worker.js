/* bgremover page: makes a download's file off the page's main thread, so that a big photo does not freeze the
   page. In: the subject's straight RGBA pixels (the kept box), the background's (or none), the final size and
   format. Out: the file as a Blob. PNG is encoded here (exact straight alpha, which a canvas's premultiplied
   pixels would round); JPEG and WEBP by the browser's encoders (OffscreenCanvas). Plain JavaScript. */
"use strict";
importScripts("crc32.js"); // CRC32, beside this file

var MIMETYPES = { PNG: "image/png", JPEG: "image/jpeg", WEBP: "image/webp" };

/* The subject over its background, in place in `subject` (straight alpha; `background` may be null). */
function blend(subject, background) {
  if (!background) return;
  for (var i = 0; i < subject.length; i += 4) {
    var a = subject[i + 3];
    if (a === 255) continue;
    var ba = background[i + 3] * (255 - a) / 255;  // the background's share, over what the subject leaves
    var oa = a + ba;
    if (oa <= 0) { subject[i] = subject[i + 1] = subject[i + 2] = subject[i + 3] = 0; continue; }
    subject[i] = (subject[i] * a + background[i] * ba) / oa;
    subject[i + 1] = (subject[i + 1] * a + background[i + 1] * ba) / oa;
    subject[i + 2] = (subject[i + 2] * a + background[i + 2] * ba) / oa;
    subject[i + 3] = oa;
  }
}

function resized(pixels, width, height) {
  if (pixels.width === width && pixels.height === height) return pixels;
  var from = new OffscreenCanvas(pixels.width, pixels.height);
  from.getContext("2d").putImageData(pixels, 0, 0);
  var to = new OffscreenCanvas(width, height);
  var ctx = to.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(from, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

// ---- PNG ----------------------------------------------------------------------------------------------
function chunk(type, data) {
  var head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, data.length);
  for (var i = 0; i < 4; i++) head[4 + i] = type.charCodeAt(i);
  var tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, CRC32.done(CRC32.update(CRC32.update(0xffffffff, head.subarray(4)), data)));
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

// ---- requests -----------------------------------------------------------------------------------------
self.onmessage = async function (e) {
  var job = e.data;
  try {
    var subject = new Uint8ClampedArray(job.subject);
    blend(subject, job.background ? new Uint8ClampedArray(job.background) : null);
    var pixels = resized(new ImageData(subject, job.boxWidth, job.boxHeight), job.width, job.height);
    var blob;
    if (job.format === "PNG") {
      blob = await encodePng(pixels);
    } else {
      var canvas = new OffscreenCanvas(pixels.width, pixels.height);
      canvas.getContext("2d").putImageData(pixels, 0, 0);
      blob = await canvas.convertToBlob({ type: MIMETYPES[job.format], quality: job.quality / 100 });
    }
    self.postMessage({ id: job.id, blob: blob, width: pixels.width, height: pixels.height });
  } catch (error) {
    self.postMessage({ id: job.id, error: String(error) });
  }
};
