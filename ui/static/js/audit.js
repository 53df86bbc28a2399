// Les journaux d'audit (catalogue, comptes) : qui a changé quoi, quand,
// chaque champ avant → après.

import { api } from "./api.js";
import { h, replace, formatDateTime, loading, loadError, emptyState } from "./dom.js";
import { FIELD_LABELS, roleLabel } from "./labels.js";
import { formatCents } from "./purchasing.js";
import { ApiError } from "./errors.js";

const ACTIONS = {
  create: "Création",
  update: "Modification",
  archive: "Archivage",
  restore: "Désarchivage",
  delete: "Suppression",
};

function value(field, raw) {
  if (raw === null || raw === undefined || raw === "") return "—";
  if (typeof raw === "boolean") return raw ? "oui" : "non";
  if (field === "price_cents") return formatCents(raw);
  if (field === "role") return roleLabel(raw);
  return String(raw);
}

function changeLine([field, { before, after }]) {
  const label = FIELD_LABELS[field] || field;
  const text = before === null && field === "password" ? `${label} modifié` : `${label} : ${value(field, before)} → ${value(field, after)}`;
  return h("li", { dataset: { testid: "audit-change", field }, text });
}

/**
 * Remplit `box` avec les entrées de `path` (route de journal) filtrées par
 * `query` ; `who` : le champ qui nomme l'auteur (`user` ou `actor`).
 */
export async function showAudit(box, path, query, who, signal) {
  replace(box, loading("Chargement du journal…"));
  let page;
  try {
    page = await api.get(path, { query: { ...query, page_size: 50 }, signal });
  } catch (error) {
    if (error?.name === "AbortError") return;
    replace(box, loadError(error instanceof ApiError ? error.french() : "Journal indisponible.", () => showAudit(box, path, query, who, signal)));
    return;
  }
  if (page.results.length === 0) {
    replace(box, emptyState("Aucun changement enregistré.", { iconName: "history", testid: "audit-empty" }));
    return;
  }
  replace(
    box,
    h(
      "ol",
      { class: "audit", dataset: { testid: "audit" } },
      page.results.map((entry) =>
        h(
          "li",
          { class: "audit__entry", dataset: { testid: "audit-entry", action: entry.action } },
          h("p", { class: "audit__head" }, h("strong", { text: ACTIONS[entry.action] || entry.action }), ` le ${formatDateTime(entry.at)} par ${entry[who] || "—"}`),
          entry.action === "delete" ? null : h("ul", { class: "audit__changes" }, Object.entries(entry.changes).map(changeLine)),
        ),
      ),
    ),
  );
}
