// Ce que le parcours fait d'une étiquette imprimée : la relire (jsQR sur
// l'image PNG que Chromium en a rendue) et en faire une vidéo YUV4MPEG2
// que la fausse caméra de Chromium filme (--use-file-for-fake-video-capture).

import { writeFile } from "node:fs/promises";
import { PNG } from "pngjs";
import jsQR from "jsqr";

/** Le texte du QR code de l'image PNG `png` (Buffer), ou null. */
export function decodeQr(png) {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}

/**
 * Une vidéo de `frames` images 640 × 480 (YUV 4:2:0) : l'image PNG `png`
 * centrée sur un fond blanc.
 */
export async function y4mOf(png, file, frames = 30) {
  const image = PNG.sync.read(png);
  const width = 640;
  const height = 480;
  // Agrandie d'un facteur entier (chaque module garde la même largeur en
  // pixels, aux bords nets) pour remplir l'image.
  const scale = Math.max(1, Math.floor(Math.min((width - 80) / image.width, (height - 80) / image.height)));
  const left = Math.floor((width - image.width * scale) / 2);
  const top = Math.floor((height - image.height * scale) / 2);
  const luma = Buffer.alloc(width * height, 235);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const sx = Math.floor((x - left) / scale);
      const sy = Math.floor((y - top) / scale);
      if (sx < 0 || sy < 0 || sx >= image.width || sy >= image.height) continue;
      const i = 4 * (sy * image.width + sx);
      const grey = (image.data[i] * 299 + image.data[i + 1] * 587 + image.data[i + 2] * 114) / 1000;
      luma[y * width + x] = Math.round(16 + (grey * 219) / 255);
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), luma, chroma, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  await writeFile(file, Buffer.concat([header, ...Array(frames).fill(frame)]));
}
