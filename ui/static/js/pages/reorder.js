// À commander : les pièces au minimum ou en dessous, la quantité qui les
// ramène à leur cible (nette de ce qui est déjà en commande), groupées par
// fournisseur ; « Créer les commandes » en fait un brouillon par fournisseur.

import { api } from "../api.js";
import { h, replace, icon, button, setBusy, formatNumber, loading, emptyState, loadError } from "../dom.js";
import { pageHeader, dataTable, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError } from "../errors.js";
import { purchasingTabs, formatCents } from "../purchasing.js";

export const name = "a-commander";
export const title = () => "À commander";

export async function render({ container, signal, navigate }) {
  const create = may.managePurchasing()
    ? button("Créer les commandes", { class: "btn btn--primary", dataset: { testid: "create-orders" }, on: { click: () => createOrders() } }, "plus")
    : null;
  container.append(
    pageHeader("Achats", {
      subtitle: "Ce qu’il faut commander pour revenir à la cible de chaque pièce, net de ce qui est déjà commandé.",
      actions: create ? [create] : [],
    }),
    purchasingTabs("#/achats"),
  );
  const results = h("div", { class: "stack", dataset: { testid: "reorder" } }, loading("Calcul de la liste…"));
  container.append(results);

  async function load() {
    let list;
    try {
      list = await api.get("/api/purchasing/reorder/", { signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(results, loadError(error instanceof ApiError ? error.french() : "Liste indisponible.", load));
      return;
    }
    if (create) create.disabled = !list.groups.some((g) => g.supplier_id !== null);
    if (list.count === 0) {
      replace(results, emptyState("Rien à commander : chaque pièce est au-dessus de son minimum ou déjà en commande.", { iconName: "check", testid: "reorder-empty" }));
      return;
    }
    replace(results, list.groups.map(groupCard));
  }

  async function createOrders() {
    setBusy(create, true, "Création…");
    try {
      const { data, response } = await api.post("/api/purchasing/reorder/orders/", undefined, { signal });
      if (response.status === 201) {
        toast(`${formatNumber(data.created.length)} commande(s) créée(s) en brouillon.`);
        navigate(data.created.length === 1 ? `/commandes/${data.created[0].id}` : "/commandes?status=draft");
      } else {
        toast("Tout est déjà en commande.", "info");
        await load();
      }
    } catch (error) {
      if (error?.name === "AbortError") return;
      toast(error instanceof ApiError ? error.french() : "Création impossible.", "error");
    } finally {
      setBusy(create, false);
    }
  }

  await load();
}

function groupCard(group) {
  const supplied = group.supplier_id !== null;
  const heading = supplied ? group.supplier_name : "Sans fournisseur";
  const columns = [
    { label: "Pièce", wide: true, cell: (l) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${l.piece_id}`, class: "ref", text: l.reference }), h("span", { class: "muted small", text: l.name })) },
    { label: "En stock", numeric: true, cell: (l) => formatNumber(l.quantity) },
    { label: "Minimum", numeric: true, cell: (l) => formatNumber(l.min_stock) },
    { label: "Cible", numeric: true, cell: (l) => formatNumber(l.reorder_target) },
    { label: "En commande", numeric: true, cell: (l) => formatNumber(l.on_order) },
    { label: "À commander", numeric: true, cell: (l) => h("strong", { dataset: { testid: "to-order" }, text: formatNumber(l.to_order) }) },
  ];
  if (supplied) {
    columns.push(
      { label: "Réf. fournisseur", cell: (l) => l.supplier_reference },
      { label: "Prix unitaire", numeric: true, cell: (l) => formatCents(l.unit_price_cents, group.currency) },
    );
  }
  return h(
    "section",
    { class: "card card--flush", dataset: { testid: "reorder-group", supplier: group.supplier_id ?? "" } },
    h(
      "div",
      { class: "card__header" },
      h("h2", {}, supplied ? icon("box") : icon("alert"), h("span", { text: ` ${heading}` })),
      supplied ? h("span", { class: "muted", text: `Total ${formatCents(group.total_cents, group.currency)}` }) : h("span", { class: "muted small", text: "Ajoutez une offre sur la fiche de la pièce." }),
    ),
    dataTable({
      caption: `À commander — ${heading}`,
      rows: group.lines,
      rowAttrs: (l) => ({ dataset: { testid: "reorder-line", reference: l.reference } }),
      columns,
    }),
  );
}
