// La caméra du téléphone comme lecteur de codes : QR, EAN-13, Code 128.
// L'API BarcodeDetector du navigateur quand il l'a ; sinon ZXing, servi avec
// l'interface (vendor/, chargé à la première utilisation).

const FORMATS = ["qr_code", "ean_13", "code_128"];
const EVERY_MS = 200;
/** La même lecture n'est prise qu'une fois par intervalle. */
const SAME_CODE_MS = 2000;

/**
 * Filme dans `box` et appelle `onCode(texte)` à chaque code lu ; rend
 * { stop() }. Lève une Error au message français si la caméra est
 * refusée ou absente.
 */
export async function startCamera(box, onCode, signal) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("Ce navigateur ne donne pas accès à la caméra (il faut une page en HTTPS ou sur cette machine).");
  }
  const decode = await decoder();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (error) {
    const refused = error?.name === "NotAllowedError" || error?.name === "SecurityError";
    throw new Error(refused ? "Caméra refusée : autorisez-la dans le navigateur, ou utilisez un lecteur de codes." : "Aucune caméra disponible : utilisez un lecteur de codes ou tapez le code.");
  }
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("aria-label", "Image de la caméra");
  video.dataset.testid = "scan-video";
  video.srcObject = stream;
  box.replaceChildren(video);
  await video.play();
  let last = { text: "", at: 0 };
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || video.readyState < 2) return;
    busy = true;
    try {
      const text = await decode(video);
      const now = Date.now();
      if (text && (text !== last.text || now - last.at > SAME_CODE_MS)) {
        last = { text, at: now };
        onCode(text);
      }
    } finally {
      busy = false;
    }
  }, EVERY_MS);
  const stop = () => {
    clearInterval(timer);
    for (const track of stream.getTracks()) track.stop();
    box.replaceChildren();
  };
  signal?.addEventListener("abort", stop);
  return { stop };
}

/** Une fonction (vidéo) → texte lu ou null. */
async function decoder() {
  if ("BarcodeDetector" in window) {
    const supported = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
    const formats = FORMATS.filter((f) => supported.includes(f));
    if (formats.length) {
      const detector = new window.BarcodeDetector({ formats });
      return async (video) => (await detector.detect(video).catch(() => []))[0]?.rawValue ?? null;
    }
  }
  const ZXing = await loadZxing();
  const hints = new Map([[ZXing.DecodeHintType.POSSIBLE_FORMATS, [ZXing.BarcodeFormat.QR_CODE, ZXing.BarcodeFormat.EAN_13, ZXing.BarcodeFormat.CODE_128]], [ZXing.DecodeHintType.TRY_HARDER, true]]);
  const reader = new ZXing.MultiFormatReader();
  reader.setHints(hints);
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
    const luminance = new Uint8ClampedArray(width * height);
    for (let i = 0; i < luminance.length; i += 1) {
      luminance[i] = (data[4 * i] * 299 + data[4 * i + 1] * 587 + data[4 * i + 2] * 114) / 1000;
    }
    try {
      const bitmap = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(new ZXing.RGBLuminanceSource(luminance, width, height)));
      return reader.decodeWithState(bitmap).getText();
    } catch {
      return null; // rien de lisible sur cette image
    } finally {
      reader.reset();
    }
  };
}

let zxing = null;

/** ZXing (vendor/zxing-library.min.js), chargé une fois. */
function loadZxing() {
  zxing ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/zxing-library.min.js";
    script.onload = () => resolve(window.ZXing);
    script.onerror = () => reject(new Error("Le décodeur de codes n’a pas pu être chargé."));
    document.head.append(script);
  });
  return zxing;
}
