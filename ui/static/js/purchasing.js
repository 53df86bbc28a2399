// Ce que les pages d'achats partagent : les onglets (à commander,
// commandes, fournisseurs), les montants en centimes, les statuts de
// commande, la liste des fournisseurs pour les listes de choix.

import { api } from "./api.js";
import { h } from "./dom.js";
import { tabs } from "./ui.js";

export const ORDER_STATUSES = {
  draft: "Brouillon",
  sent: "Envoyée",
  partial: "Partiellement reçue",
  received: "Reçue",
  cancelled: "Annulée",
};

export const RECEPTION_STATES = {
  pending: "En attente du stock",
  recorded: "Entrée en stock",
  refused: "Refusée par le stock",
};

const formats = new Map();

/** 1250 centimes en EUR : « 12,50 € ». */
export function formatCents(cents, currency = "EUR") {
  if (cents === null || cents === undefined) return "—";
  const code = currency || "EUR";
  if (!formats.has(code)) formats.set(code, new Intl.NumberFormat("fr-FR", { style: "currency", currency: code }));
  return formats.get(code).format(Number(cents) / 100);
}

/** « 12,50 » ou « 12.5 » (euros) en centimes ; null si ce n'est pas un prix. */
export function parseCents(text) {
  const normalised = String(text).trim().replace(/\s/g, "").replace(",", ".");
  if (!/^\d+(\.\d{1,2})?$/.test(normalised)) return null;
  return Math.round(Number(normalised) * 100);
}

/** Pastille de statut de commande (texte, pas seulement la couleur). */
export function orderBadge(status) {
  const tone = { draft: "tag--muted", sent: "tag--info", partial: "tag--warning", received: "tag--ok", cancelled: "tag--muted" }[status];
  return h("span", { class: ["tag", tone], dataset: { testid: "order-status" }, text: ORDER_STATUSES[status] || status });
}

const TABS = [
  { href: "#/achats", label: "À commander", testid: "tab-reorder" },
  { href: "#/commandes", label: "Commandes", testid: "tab-orders" },
  { href: "#/fournisseurs", label: "Fournisseurs", testid: "tab-suppliers" },
];

/** Les onglets des achats, `current` marqué comme page courante. */
export function purchasingTabs(current) {
  return tabs("Achats", TABS, current);
}

/** Les fournisseurs actifs, par nom (200 au plus : une liste de choix). */
export async function loadSuppliers(signal) {
  const page = await api.get("/api/purchasing/suppliers/", { query: { page_size: 200 }, signal });
  return page.results;
}
