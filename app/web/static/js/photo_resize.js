/* A camera photo made small enough for a field connection before it is uploaded: longest side at most
   1920 px, JPEG quality 0.85, drawn upright (the EXIF orientation applied to the pixels). The canvas drops
   every metadata, but the review's photo check needs the capture time and place: the original's EXIF
   segment (APP1) is copied into the small JPEG, its Orientation set to 1 since the pixels are upright now.
   A few lines here instead of a library: only that one segment is copied, nothing is parsed beyond IFD0.
   GridcasePhoto.prepare(file) → Promise<{blob, name, resized, width, height}>. */
(function () {
  "use strict";

  var MAX_SIDE = 1920;
  var QUALITY = 0.85;
  var SMALL_ENOUGH = 600 * 1024; // a JPEG already this small and within MAX_SIDE goes as it is

  function exifSegment(bytes) {
    // JPEG: SOI, then segments FF xx <length, 2 bytes, big endian, including itself>; APP1 "Exif\0\0"
    if (bytes[0] !== 0xff || bytes[1] !== 0xd8) { return null; }
    var at = 2;
    while (at + 4 <= bytes.length && bytes[at] === 0xff) {
      var marker = bytes[at + 1];
      if (marker === 0xda || marker === 0xd9) { return null; } // image data: no more metadata segments
      var length = (bytes[at + 2] << 8) | bytes[at + 3];
      if (marker === 0xe1 && length > 8 && bytes[at + 4] === 0x45 && bytes[at + 5] === 0x78 &&
          bytes[at + 6] === 0x69 && bytes[at + 7] === 0x66 && bytes[at + 8] === 0 && bytes[at + 9] === 0) {
        return bytes.slice(at, at + 2 + length);
      }
      at += 2 + length;
    }
    return null;
  }

  function uprightOrientation(segment) {
    // TIFF header after FF E1 <len> "Exif\0\0": byte order, 42, offset of IFD0; tag 0x0112 is Orientation
    var view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    var tiff = 10;
    if (segment.length < tiff + 8) { return; }
    var little = view.getUint16(tiff) === 0x4949;
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > segment.length) { return; }
    var count = view.getUint16(ifd, little);
    for (var i = 0; i < count; i++) {
      var entry = ifd + 2 + i * 12;
      if (entry + 12 > segment.length) { return; }
      if (view.getUint16(entry, little) === 0x0112) { view.setUint16(entry + 8, 1, little); return; }
    }
  }

  function withExif(resized, segment) {
    // the canvas writes SOI + APP0 (JFIF) + ...: the EXIF segment takes APP0's place, as cameras write it
    var rest = 2;
    if (resized[2] === 0xff && resized[3] === 0xe0) { rest = 4 + ((resized[4] << 8) | resized[5]); }
    var out = new Uint8Array(2 + segment.length + resized.length - rest);
    out.set(resized.subarray(0, 2), 0);
    out.set(segment, 2);
    out.set(resized.subarray(rest), 2 + segment.length);
    return out;
  }

  function jpegName(name) {
    return (String(name || "photo").replace(/\.[^.]*$/, "") || "photo") + ".jpg";
  }

  function encode(canvas) {
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { return blob ? resolve(blob) : reject(new Error("encode")); },
        "image/jpeg", QUALITY);
    });
  }

  function prepare(file) {
    return Promise.all([
      file.arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); }),
      createImageBitmap(file, { imageOrientation: "from-image" })
    ]).then(function (read) {
      var original = read[0];
      var bitmap = read[1];
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var isJpeg = original[0] === 0xff && original[1] === 0xd8;
      if (scale === 1 && isJpeg && file.size <= SMALL_ENOUGH) {
        bitmap.close();
        return { blob: file, name: file.name, resized: false, width: bitmap.width, height: bitmap.height };
      }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.imageSmoothingEnabled = true;
      context.imageSmoothingQuality = "high";
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return encode(canvas).then(function (small) {
        var segment = isJpeg ? exifSegment(original) : null;
        var done = { name: jpegName(file.name), resized: true, width: canvas.width, height: canvas.height };
        if (!segment) { done.blob = small; return done; }
        uprightOrientation(segment);
        return small.arrayBuffer().then(function (buffer) {
          done.blob = new Blob([withExif(new Uint8Array(buffer), segment)], { type: "image/jpeg" });
          return done;
        });
      });
    }, function () {
      // a format this browser cannot draw (e.g. HEIC on some phones): sent as it is, the server judges it
      return { blob: file, name: file.name, resized: false, width: 0, height: 0 };
    });
  }

  window.GridcasePhoto = { prepare: prepare, exifSegment: exifSegment };
})();
