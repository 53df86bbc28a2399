// Ce que tape un lecteur de codes (ou une personne) : « RÉFÉRENCE » ou
// « RÉFÉRENCE QUANTITÉ », puis Entrée. Une référence sans quantité en vaut
// une ; la même référence lue deux fois s'additionne.

import { api } from "./api.js";
import { field, input } from "./dom.js";

/** « VIS-M6 12 » → { reference: "VIS-M6", quantity: 12 } ; null si illisible. */
export function parseScan(text) {
  const parts = String(text).trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0 || parts.length > 2) return null;
  const quantity = parts.length === 2 ? Number(parts[1]) : 1;
  if (!Number.isInteger(quantity) || quantity < 1) return null;
  return { reference: parts[0], quantity };
}

/** Les lignes d'un texte, additionnées par référence (casse ignorée). */
export function parseScans(text) {
  const totals = new Map();
  const unreadable = [];
  for (const line of String(text).split("\n")) {
    if (!line.trim()) continue;
    const scan = parseScan(line);
    if (!scan) {
      unreadable.push(line.trim());
      continue;
    }
    const key = scan.reference.toUpperCase();
    const known = totals.get(key);
    totals.set(key, { reference: known?.reference ?? scan.reference, quantity: (known?.quantity ?? 0) + scan.quantity });
  }
  if (unreadable.length) throw new Error(`Lignes illisibles (« RÉFÉRENCE QUANTITÉ » attendu) : ${unreadable.join(" ; ")}.`);
  return [...totals.values()];
}

/** Ce qu'encode une étiquette d'emplacement, devant son code. */
export const LOCATION_PREFIX = "EMPL:";

/** La pièce dont le code-barres, sinon la référence, est exactement `code`. */
export async function findPiece(code, signal) {
  const page = await api.get("/api/pieces/", { query: { search: code, page_size: 50 }, signal });
  const wanted = code.toUpperCase();
  return (
    page.results.find((p) => p.barcode && p.barcode.toUpperCase() === wanted) ??
    page.results.find((p) => p.reference.toUpperCase() === wanted) ??
    null
  );
}

/**
 * La ligne de `lines` ({reference, piece_id}) que nomme `code` : par sa
 * référence, sinon par le code-barres de sa pièce ; null si aucune.
 */
export async function findLine(code, lines, signal) {
  const wanted = code.toUpperCase();
  const byReference = lines.find((l) => l.reference.toUpperCase() === wanted);
  if (byReference) return byReference;
  const piece = await findPiece(code, signal).catch(() => null);
  return (piece && lines.find((l) => l.piece_id === piece.id)) ?? null;
}

/** Les pièces d'un texte de lignes : { lines: [{piece, quantity}], unknown }. */
export async function findPieces(text, signal) {
  const scans = parseScans(text);
  const found = await Promise.all(scans.map((scan) => findPiece(scan.reference, signal)));
  return {
    lines: scans.map((scan, i) => ({ piece: found[i], quantity: scan.quantity })).filter((l) => l.piece),
    unknown: scans.filter((_, i) => !found[i]).map((s) => s.reference),
  };
}

/**
 * Le champ de lecture d'une liste de lignes (réception, inventaire) : à
 * chaque Entrée, la ligne que nomme la lecture et sa quantité vont à
 * `onRead(line, quantity)` ; une lecture illisible ou hors liste le dit
 * sous le champ (`outside(code)` : le message).
 */
export function lineScanner({ lines, hint, testid, outside, onRead, signal }) {
  const scan = field({
    label: "Lire ou taper la référence",
    name: "scan",
    hint,
    control: input({ autocomplete: "off", autocapitalize: "characters", spellcheck: "false", enterkeyhint: "enter", dataset: { testid } }),
  });
  scan.control.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    scan.setError("");
    const read = parseScan(scan.control.value);
    scan.control.value = "";
    if (!read) return scan.setError("Illisible : « RÉFÉRENCE » ou « RÉFÉRENCE QUANTITÉ ».");
    const line = await findLine(read.reference, lines(), signal);
    if (!line || onRead(line, read.quantity) === false) scan.setError(outside(read.reference));
  });
  return scan;
}
