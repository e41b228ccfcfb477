/* bgremover page: touching up the cut-out. Erase and Restore brushes act on the full-resolution alpha (Restore
   paints the original's pixels back); undo and redo; zoom and pan; Pointer Events (mouse, pen, touch).
   Plain JavaScript, no build step; exposes window.BgEditor. */
(function () {
  "use strict";

  var TILE = 128;  // undo keeps the pixels of the tiles a stroke touched, as they were before it
  var HISTORY_BYTES = 256 * 1024 * 1024;  // the oldest steps are forgotten beyond this
  var MIN_ZOOM_SHARE = 0.25, MAX_ZOOM = 16;  // from a quarter of the fitted size to 16 screen px per pixel
  var WHEEL_STEP = 1.0015;

  function Editor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange || function () {};
    this.layers = null;
    this.look = { mode: "transparent" };
    this.tool = "erase";
    this.size = 40;  // brush diameter in screen (CSS) pixels
    this.soft = 0.5;  // the share of the radius that fades out
    this.compare = 0;  // the percentage of the width that shows the original
    this.view = { zoom: 1, x: 0, y: 0, fitted: true };
    this.pointers = new Map();
    this.stroke = null;
    this.gesture = null;
    this.hover = null;
    this.keyBrush = null;  // the keyboard's brush: {x, y} in CSS px of the canvas, and whether it is down
    this.dirty = null;
    this.frame = 0;
    this.undoStack = [];
    this.redoStack = [];
    this.checker = this._checker();
    this._bind();
  }

  // ---- content -----------------------------------------------------------------------------------------
  Editor.prototype.load = function (layers) {
    this.liftKeyBrush();  // a stroke of the keyboard's brush ends on the layers it began on
    this.keyBrush = null;
    this.layers = layers;
    this.undoStack = layers.undoStack || (layers.undoStack = []);
    this.redoStack = layers.redoStack || (layers.redoStack = []);
    this.fitFrame();
    this.resize();
    this.fit();
    this.changed(false);
  };

  Editor.prototype.setLook = function (look) {
    if (this.layers && look.shadow && this.look.shadowParams !== look.shadowParams) this.layers.shadowCache = null;
    this.look = look;
    this.redraw();
  };

  Editor.prototype.changed = function (edited) {
    if (this.layers) {
      if (edited) this.layers.shadowCache = null;
      this.layers.edited = this.undoStack.length > 0;
    }
    this.redraw();
    this.onChange(edited);
  };

  // ---- view --------------------------------------------------------------------------------------------
  Editor.prototype.resize = function () {
    var box = this.canvas.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    this.cssWidth = Math.max(1, box.width);
    this.cssHeight = Math.max(1, box.height);
    this.canvas.width = Math.round(this.cssWidth * dpr);
    this.canvas.height = Math.round(this.cssHeight * dpr);
    this.dpr = dpr;
    if (this.view.fitted) this.fit(); else this.redraw();
  };

  /* The frame takes the image's shape, up to the height the style sheet allows (no empty bands on a phone). */
  Editor.prototype.fitFrame = function () {
    var frame = this.canvas.parentElement;
    if (!this.layers) return;
    frame.style.height = "";
    var most = frame.getBoundingClientRect().height;
    var shaped = frame.clientWidth * this.layers.height / this.layers.width;
    frame.style.height = Math.round(Math.max(Math.min(most, shaped), Math.min(most, 200))) + "px";
  };

  Editor.prototype.fitZoom = function () {
    if (!this.layers) return 1;
    return Math.min(this.cssWidth / this.layers.width, this.cssHeight / this.layers.height);
  };

  Editor.prototype.fit = function () {
    if (!this.layers) return;
    var zoom = this.fitZoom();
    this.setView(zoom, (this.cssWidth - this.layers.width * zoom) / 2, (this.cssHeight - this.layers.height * zoom) / 2);
    this.view.fitted = true;
  };

  Editor.prototype.setView = function (zoom, x, y) {
    var low = this.fitZoom() * MIN_ZOOM_SHARE;
    this.view = { zoom: Math.min(MAX_ZOOM, Math.max(low, zoom)), x: x, y: y, fitted: false };
    // what the canvas shows, for tests and tools: CSS px = offset + image px × zoom
    this.canvas.dataset.view = [this.view.zoom, this.view.x, this.view.y].join(" ");
    this.redraw();
  };

  /* Zoom by a factor keeping the image point under (cx, cy) (CSS px in the canvas) where it is. */
  Editor.prototype.zoomAt = function (factor, cx, cy) {
    var v = this.view;
    if (cx === undefined) { cx = this.cssWidth / 2; cy = this.cssHeight / 2; }
    var low = this.fitZoom() * MIN_ZOOM_SHARE;
    var zoom = Math.min(MAX_ZOOM, Math.max(low, v.zoom * factor));
    var k = zoom / v.zoom;
    this.setView(zoom, cx - (cx - v.x) * k, cy - (cy - v.y) * k);
  };

  Editor.prototype.toImage = function (cx, cy) {
    return { x: (cx - this.view.x) / this.view.zoom, y: (cy - this.view.y) / this.view.zoom };
  };

  // ---- drawing -----------------------------------------------------------------------------------------
  Editor.prototype._checker = function () {
    var tile = document.createElement("canvas");
    tile.width = tile.height = 20;
    var t = tile.getContext("2d");
    t.fillStyle = "#fff";
    t.fillRect(0, 0, 20, 20);
    t.fillStyle = "#e3e6eb";
    t.fillRect(0, 0, 10, 10);
    t.fillRect(10, 10, 10, 10);
    return this.ctx.createPattern(tile, "repeat");
  };

  Editor.prototype.redraw = function () {
    if (this.frame) return;
    var self = this;
    this.frame = requestAnimationFrame(function () { self.frame = 0; self.draw(); });
  };

  Editor.prototype.draw = function () {
    var ctx = this.ctx, layers = this.layers, v = this.view;
    this.flush();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = "#e9ecf1";
    ctx.fillRect(0, 0, this.cssWidth, this.cssHeight);
    if (!layers) return;
    var rect = { x: v.x, y: v.y, width: layers.width * v.zoom, height: layers.height * v.zoom };
    ctx.save();
    ctx.beginPath();
    ctx.rect(rect.x, rect.y, rect.width, rect.height);
    ctx.clip();
    if (this.look.mode === "transparent" && !this.look.fill) {
      ctx.fillStyle = this.checker;
      ctx.fillRect(rect.x, rect.y, rect.width, rect.height);
    }
    window.BgCompose.paintBackground(ctx, layers, this.look, rect);
    ctx.imageSmoothingEnabled = v.zoom < 3;  // zoomed far in, show the pixels themselves
    ctx.drawImage(layers.work, rect.x, rect.y, rect.width, rect.height);
    if (this.compare > 0) {
      ctx.beginPath();
      ctx.rect(rect.x, rect.y, rect.width * this.compare / 100, rect.height);
      ctx.clip();
      ctx.drawImage(layers.original, rect.x, rect.y, rect.width, rect.height);
    }
    ctx.restore();
    if (this.compare > 0) {
      ctx.fillStyle = "#2456e0";
      ctx.fillRect(rect.x + rect.width * this.compare / 100 - 1, Math.max(0, rect.y), 2,
        Math.min(this.cssHeight, rect.height));
    }
    var ring = this.keyBrush || this.hover;
    if (ring && this.tool !== "pan" && !this.gesture) {
      ctx.beginPath();
      ctx.arc(ring.x, ring.y, this.size / 2, 0, Math.PI * 2);
      ctx.lineWidth = ring.down ? 3 : 1.5;
      ctx.strokeStyle = "rgba(0,0,0,.75)";
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(ring.x, ring.y, this.size / 2 + 1.5, 0, Math.PI * 2);
      ctx.strokeStyle = "rgba(255,255,255,.9)";
      ctx.stroke();
    }
  };

  /* Copy the changed pixels to the work canvas (only the changed rectangle). */
  Editor.prototype.flush = function () {
    var d = this.dirty;
    if (!d || !this.layers) return;
    this.dirty = null;
    this.layers.work.getContext("2d").putImageData(this.layers.image, 0, 0, d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0);
  };

  Editor.prototype.markDirty = function (x0, y0, x1, y1) {
    var d = this.dirty;
    this.dirty = d ? { x0: Math.min(d.x0, x0), y0: Math.min(d.y0, y0), x1: Math.max(d.x1, x1), y1: Math.max(d.y1, y1) }
      : { x0: x0, y0: y0, x1: x1, y1: y1 };
  };

  // ---- brushes -----------------------------------------------------------------------------------------
  /* Save, once per stroke, the tiles of the rectangle [x0, x1) × [y0, y1) before they change. */
  Editor.prototype.saveTiles = function (x0, y0, x1, y1) {
    var layers = this.layers, data = layers.image.data, width = layers.width, tiles = this.stroke.tiles;
    for (var ty = Math.floor(y0 / TILE); ty * TILE < y1; ty++) {
      for (var tx = Math.floor(x0 / TILE); tx * TILE < x1; tx++) {
        var key = ty * 65536 + tx;
        if (tiles.has(key)) continue;
        var x = tx * TILE, y = ty * TILE;
        var w = Math.min(TILE, width - x), h = Math.min(TILE, layers.height - y);
        var copy = new Uint8ClampedArray(w * h * 4);
        for (var r = 0; r < h; r++) {
          var s = ((y + r) * width + x) * 4;
          copy.set(data.subarray(s, s + w * 4), r * w * 4);
        }
        tiles.set(key, { x: x, y: y, w: w, h: h, pixels: copy });
      }
    }
  };

  /* One segment of a stroke, in image pixels: every pixel whose centre is within the radius of the segment. */
  Editor.prototype.paintSegment = function (ax, ay, bx, by) {
    var layers = this.layers, data = layers.image.data, orig = layers.orig, width = layers.width;
    var radius = this.size / 2 / this.view.zoom;
    var inner = radius * (1 - this.soft), fade = radius - inner;
    var x0 = Math.max(0, Math.floor(Math.min(ax, bx) - radius)), x1 = Math.min(width, Math.ceil(Math.max(ax, bx) + radius));
    var y0 = Math.max(0, Math.floor(Math.min(ay, by) - radius)), y1 = Math.min(layers.height, Math.ceil(Math.max(ay, by) + radius));
    if (x1 <= x0 || y1 <= y0) return;
    this.saveTiles(x0, y0, x1, y1);
    var dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy, r2 = radius * radius;
    var erase = this.tool === "erase";
    for (var y = y0; y < y1; y++) {
      var py = y + 0.5 - ay;
      var i = (y * width + x0) * 4;
      for (var x = x0; x < x1; x++, i += 4) {
        var px = x + 0.5 - ax;
        var t = length2 > 0 ? (px * dx + py * dy) / length2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        var ex = px - t * dx, ey = py - t * dy, d2 = ex * ex + ey * ey;
        if (d2 >= r2) continue;
        var d = Math.sqrt(d2);
        var weight = d <= inner ? 1 : (radius - d) / fade;
        var a = data[i + 3];
        if (erase) {
          var keep = Math.round(255 * (1 - weight));
          if (keep < a) data[i + 3] = keep;
        } else {
          var back = Math.round(255 * weight);
          if (back > a) {
            data[i] = orig[i]; data[i + 1] = orig[i + 1]; data[i + 2] = orig[i + 2]; data[i + 3] = back;
          }
        }
      }
    }
    this.markDirty(x0, y0, x1, y1);
    this.redraw();
  };

  Editor.prototype.beginStroke = function (point) {
    this.stroke = { tiles: new Map(), last: point };
    this.paintSegment(point.x, point.y, point.x, point.y);
  };

  Editor.prototype.extendStroke = function (point) {
    var last = this.stroke.last;
    this.paintSegment(last.x, last.y, point.x, point.y);
    this.stroke.last = point;
  };

  Editor.prototype.endStroke = function (keep) {
    var stroke = this.stroke;
    this.stroke = null;
    if (!stroke || !stroke.tiles.size) return;
    var step = Array.from(stroke.tiles.values());
    if (!keep) { this.swap(step); return; }  // a stroke turned into a pinch: as if it never was
    this.undoStack.push(step);
    this.redoStack.length = 0;
    this.trimHistory();
    this.changed(true);
  };

  Editor.prototype.trimHistory = function () {
    var bytes = 0;
    for (var i = this.undoStack.length - 1; i >= 0; i--) {
      bytes += this.undoStack[i].reduce(function (n, t) { return n + t.pixels.length; }, 0);
      if (bytes > HISTORY_BYTES) { this.undoStack.splice(0, i + 1); return; }
    }
  };

  /* Exchange the saved tiles with the image's current ones: undoing a step makes it its own redo, and back. */
  Editor.prototype.swap = function (step) {
    var layers = this.layers, data = layers.image.data, width = layers.width;
    step.forEach(function (tile) {
      var current = new Uint8ClampedArray(tile.pixels.length);
      for (var r = 0; r < tile.h; r++) {
        var s = ((tile.y + r) * width + tile.x) * 4, o = r * tile.w * 4;
        current.set(data.subarray(s, s + tile.w * 4), o);
        data.set(tile.pixels.subarray(o, o + tile.w * 4), s);
      }
      tile.pixels = current;
      this.markDirty(tile.x, tile.y, tile.x + tile.w, tile.y + tile.h);
    }, this);
  };

  Editor.prototype.undo = function () {
    if (this.stroke || !this.undoStack.length) return;
    var step = this.undoStack.pop();
    this.swap(step);
    this.redoStack.push(step);
    this.changed(true);
  };

  Editor.prototype.redo = function () {
    if (this.stroke || !this.redoStack.length) return;
    var step = this.redoStack.pop();
    this.swap(step);
    this.undoStack.push(step);
    this.changed(true);
  };

  // ---- pointers ----------------------------------------------------------------------------------------
  Editor.prototype.local = function (e) {
    var box = this.canvas.getBoundingClientRect();
    return { x: e.clientX - box.left, y: e.clientY - box.top };
  };

  Editor.prototype._bind = function () {
    var self = this, canvas = this.canvas;
    var spaceHeld = false;
    canvas.addEventListener("pointerdown", function (e) {
      if (!self.layers) return;
      e.preventDefault();
      self.liftKeyBrush();
      canvas.focus({ preventScroll: true });
      canvas.setPointerCapture(e.pointerId);
      var p = self.local(e);
      self.pointers.set(e.pointerId, p);
      if (self.pointers.size === 2) {  // a second finger: pinch to zoom and pan, and drop the stroke begun
        self.endStroke(false);
        self.gesture = self.pinchStart();
        return;
      }
      if (self.pointers.size > 2) return;
      if (self.tool === "pan" || e.button === 1 || spaceHeld) {
        self.gesture = { pan: true, from: p, view: self.view };
      } else if (e.button === 0) {
        self.beginStroke(self.toImage(p.x, p.y));
      }
    });
    canvas.addEventListener("pointermove", function (e) {
      var p = self.local(e);
      if (e.pointerType !== "touch") {
        self.hover = p;
        if (self.keyBrush && !self.keyBrush.down) self.keyBrush = null;  // the mouse's ring is shown again
        self.redraw();
      }
      if (!self.pointers.has(e.pointerId)) return;
      self.pointers.set(e.pointerId, p);
      if (self.gesture && self.gesture.pinch) { self.pinchMove(); return; }
      if (self.gesture && self.gesture.pan) {
        var g = self.gesture;
        self.setView(g.view.zoom, g.view.x + p.x - g.from.x, g.view.y + p.y - g.from.y);
        return;
      }
      if (!self.stroke) return;
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      if (!events.length) events = [e];
      events.forEach(function (c) {
        var q = self.local(c);
        self.extendStroke(self.toImage(q.x, q.y));
      });
    });
    function release(e) {
      if (!self.pointers.has(e.pointerId)) return;
      self.pointers.delete(e.pointerId);
      if (self.stroke) self.endStroke(e.type !== "pointercancel");
      if (!self.pointers.size) self.gesture = null;
      else if (self.gesture && self.gesture.pinch) self.gesture = null;  // one finger left: wait for the next
    }
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);
    canvas.addEventListener("pointerleave", function () { self.hover = null; self.redraw(); });
    canvas.addEventListener("blur", function () { self.liftKeyBrush(); self.keyBrush = null; self.redraw(); });
    canvas.addEventListener("wheel", function (e) {
      if (!self.layers) return;
      e.preventDefault();
      var p = self.local(e);
      if (e.ctrlKey || !e.shiftKey) {
        self.zoomAt(Math.pow(WHEEL_STEP, -e.deltaY * (e.deltaMode === 1 ? 20 : 1)), p.x, p.y);
      } else {
        self.setView(self.view.zoom, self.view.x - e.deltaY, self.view.y);
      }
    }, { passive: false });
    canvas.addEventListener("keydown", function (e) {
      var step = 40;
      var moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (!self.layers) return;
      if (moves[e.key] && e.shiftKey) {  // the keyboard's brush moves (and draws, while it is down)
        e.preventDefault();
        self.moveKeyBrush(-moves[e.key][0] / 5, -moves[e.key][1] / 5);
      } else if (e.key === "Enter" && self.tool !== "pan") {
        e.preventDefault();
        self.toggleKeyBrush();
      } else if (e.key === "Escape" && self.keyBrush && self.keyBrush.down) {
        e.preventDefault();
        self.toggleKeyBrush();
      } else if (moves[e.key]) {
        e.preventDefault();
        self.setView(self.view.zoom, self.view.x + moves[e.key][0], self.view.y + moves[e.key][1]);
      } else if (e.key === "+" || e.key === "=") { e.preventDefault(); self.zoomAt(1.25); }
      else if (e.key === "-") { e.preventDefault(); self.zoomAt(0.8); }
      else if (e.key === "0") { e.preventDefault(); self.fit(); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === " " && e.target === canvas) { spaceHeld = true; e.preventDefault(); }
    });
    document.addEventListener("keyup", function (e) { if (e.key === " ") spaceHeld = false; });
    if (window.ResizeObserver) new ResizeObserver(function () { self.resize(); }).observe(canvas);
    window.addEventListener("resize", function () { self.fitFrame(); });
  };

  // ---- the keyboard's brush ----------------------------------------------------------------------------
  Editor.prototype.keyBrushAt = function () {
    if (!this.keyBrush) this.keyBrush = { x: this.cssWidth / 2, y: this.cssHeight / 2, down: false };
    return this.keyBrush;
  };

  /* Move the keyboard's brush by (dx, dy) CSS px within the canvas; while it is down, it draws on the way. */
  Editor.prototype.moveKeyBrush = function (dx, dy) {
    var brush = this.keyBrushAt();
    brush.x = Math.min(this.cssWidth, Math.max(0, brush.x + dx));
    brush.y = Math.min(this.cssHeight, Math.max(0, brush.y + dy));
    if (brush.down && this.stroke) this.extendStroke(this.toImage(brush.x, brush.y));
    this.canvas.dataset.brush = [brush.down ? "down" : "up", brush.x, brush.y].join(" ");
    this.redraw();
  };

  /* Enter: put the keyboard's brush down (it paints where it is) or lift it (the stroke is one undo step). */
  Editor.prototype.toggleKeyBrush = function () {
    var brush = this.keyBrushAt();
    if (brush.down) this.liftKeyBrush();
    else if (!this.stroke) {
      brush.down = true;
      this.beginStroke(this.toImage(brush.x, brush.y));
    }
    this.canvas.dataset.brush = [brush.down ? "down" : "up", brush.x, brush.y].join(" ");
    this.redraw();
  };

  Editor.prototype.liftKeyBrush = function () {
    if (!this.keyBrush || !this.keyBrush.down) return;
    this.keyBrush.down = false;
    this.endStroke(true);
  };

  Editor.prototype.pinchStart = function () {
    var pts = Array.from(this.pointers.values());
    return { pinch: true, view: this.view, distance: Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y) || 1,
             centre: { x: (pts[0].x + pts[1].x) / 2, y: (pts[0].y + pts[1].y) / 2 } };
  };

  Editor.prototype.pinchMove = function () {
    var g = this.gesture, pts = Array.from(this.pointers.values());
    if (pts.length < 2) return;
    var distance = Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y) || 1;
    var centre = { x: (pts[0].x + pts[1].x) / 2, y: (pts[0].y + pts[1].y) / 2 };
    var low = this.fitZoom() * MIN_ZOOM_SHARE;
    var zoom = Math.min(MAX_ZOOM, Math.max(low, g.view.zoom * distance / g.distance));
    var k = zoom / g.view.zoom;
    this.setView(zoom, centre.x - (g.centre.x - g.view.x) * k, centre.y - (g.centre.y - g.view.y) * k);
  };

  window.BgEditor = Editor;
})();
