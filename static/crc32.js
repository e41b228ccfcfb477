/* bgremover page: CRC-32 as PNG and ZIP use it, shared by the page (its ZIP of all downloads) and the encoding
   worker (its PNG chunks). Plain JavaScript, one global: CRC32. */
"use strict";

var CRC32 = (function () {
  var table = new Uint32Array(256);
  for (var n = 0; n < 256; n++) {
    var c = n;
    for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  /* The running register after `bytes`, from `crc` (start with 0xffffffff, finish with CRC32.done). */
  function update(crc, bytes) {
    for (var i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return crc;
  }
  function done(crc) { return (crc ^ 0xffffffff) >>> 0; }
  return { update: update, done: done, of: function (bytes) { return done(update(0xffffffff, bytes)); } };
})();
