// Étiquettes : des planches A4 (grille 3 × 8 ou 2 × 7) des pièces ou des
// emplacements choisis, chaque étiquette un QR code et son texte, faites
// par le service (SVG) et imprimées depuis le navigateur, à 100 %.
// #/etiquettes?pieces=1,2,3 ou ?emplacements=4,5.

import { request } from "../api.js";
import { h, replace, field, select, input, button, loading, loadError } from "../dom.js";
import { pageHeader } from "../ui.js";
import { ApiError } from "../errors.js";

export const name = "etiquettes";
export const title = () => "Étiquettes";

const LAYOUTS = [
  ["3x8", "3 × 8 (70 × 37 mm)", 24],
  ["2x7", "2 × 7 (99,1 × 38,1 mm)", 14],
];

/** Ce que l'adresse demande : les ids, et la route qui fait leurs planches. */
function subject(query) {
  const ids = (key) =>
    (query.get(key) || "")
      .split(",")
      .filter((id) => /^[1-9]\d{0,17}$/.test(id));
  const pieces = ids("pieces");
  if (pieces.length) return { ids: pieces, path: "/api/pieces/labels.svg", noun: "pièce" };
  return { ids: ids("emplacements"), path: "/api/stock/locations/labels.svg", noun: "emplacement" };
}

export async function render({ container, query, signal, updateQuery }) {
  const { ids, path, noun } = subject(query);
  const layout = field({ label: "Planche", name: "layout", control: select(LAYOUTS.map(([value, label]) => [value, label]), { value: query.get("planche") || "3x8", dataset: { testid: "labels-layout" } }) });
  const skip = field({ label: "Première position libre", name: "skip", hint: "Pour une planche déjà entamée.", control: input({ type: "number", min: 1, step: 1, value: query.get("depuis") || 1, dataset: { testid: "labels-skip" } }) });
  const print = button("Imprimer", { class: "btn btn--primary", dataset: { testid: "labels-print" }, on: { click: () => window.print() } });
  const sheets = h("div", { class: "label-sheets", dataset: { testid: "label-sheets" } });
  container.append(
    pageHeader("Étiquettes", { subtitle: `${ids.length} ${noun}${ids.length > 1 ? "s" : ""} ; imprimez à 100 % (sans mise à l’échelle), marges nulles.`, actions: [print] }),
    h("section", { class: "card no-print", "aria-label": "Réglages" }, h("div", { class: "card__body form-grid" }, layout.wrapper, skip.wrapper)),
    sheets,
  );
  if (ids.length === 0) {
    replace(sheets, h("p", { class: "muted", text: "Aucune étiquette demandée : choisissez des pièces ou des emplacements, puis « Étiquettes »." }));
    return;
  }

  async function load() {
    const [value, , capacity] = LAYOUTS.find(([v]) => v === layout.control.value) || LAYOUTS[0];
    const first = Math.min(Math.max(1, Number(skip.control.value) || 1), capacity) - 1;
    updateQuery({ [noun === "pièce" ? "pieces" : "emplacements"]: ids.join(","), planche: value, depuis: first + 1 });
    replace(sheets, loading("Préparation des planches…"));
    // La première planche commence à la position libre, les suivantes au début.
    const batches = [];
    for (let start = 0, room = capacity - first; start < ids.length; start += room, room = capacity) {
      batches.push({ ids: ids.slice(start, start + room), skip: batches.length ? 0 : first });
    }
    try {
      const svgs = await Promise.all(
        batches.map(async (batch) => {
          const { response } = await request("GET", path, { query: { ids: batch.ids.join(","), layout: value, skip: batch.skip }, raw: true, signal });
          return response.text();
        }),
      );
      replace(
        sheets,
        svgs.map((text) => {
          const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
          return h("div", { class: "label-sheet", dataset: { testid: "label-sheet" } }, document.importNode(svg, true));
        }),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(sheets, loadError(error instanceof ApiError ? error.french() : "Planches indisponibles.", load));
    }
  }
  layout.control.addEventListener("change", load);
  skip.control.addEventListener("change", load);
  await load();
}
