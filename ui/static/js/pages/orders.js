// Commandes fournisseurs : la liste (filtrée par statut), et une commande
// faite à la main (gestionnaire) : un fournisseur, puis une ligne par pièce,
// « référence quantité », comme le tape un lecteur de codes.

import { api } from "../api.js";
import { h, replace, field, select, setOptions, messageArea, setBusy, formatDateTime, formatNumber, loading, emptyState } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, pageFromQuery, choiceFromQuery, bindFilters } from "../ui.js";
import { may } from "../session.js";
import { ApiError, fieldMessages } from "../errors.js";
import { purchasingTabs, formatCents, orderBadge, ORDER_STATUSES, loadSuppliers } from "../purchasing.js";
import { findPieces } from "../scan.js";

export const name = "commandes";
export const title = () => "Commandes fournisseurs";

const PAGE_SIZE = 20;
const STATUS_CHOICES = [
  ["", "Toutes"],
  ["draft,sent,partial", "Ouvertes"],
  ...Object.entries(ORDER_STATUSES),
];

export async function render({ container, query, signal, navigate, updateQuery }) {
  const state = { page: pageFromQuery(query), status: choiceFromQuery(query, "status", STATUS_CHOICES, "") };
  container.append(pageHeader("Achats", { subtitle: "Les commandes aux fournisseurs, de la plus récente à la plus ancienne." }), purchasingTabs("#/commandes"));
  const layout = h("div", { class: may.managePurchasing() ? "split" : "" });
  container.append(layout);
  if (may.managePurchasing()) layout.append(orderForm({ signal, onCreated: (order) => navigate(`/commandes/${order.id}`) }));

  const statusFilter = select(STATUS_CHOICES, { value: state.status, dataset: { testid: "orders-status" }, "aria-label": "Statut" });
  const results = h("div", { class: "results", dataset: { testid: "orders" } }, loading("Chargement des commandes…"));
  layout.append(
    h(
      "section",
      { class: "card card--flush split__main", "aria-labelledby": "commandes-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "commandes-titre", text: "Commandes" }), h("label", { class: "inline-filter" }, h("span", { class: "muted small", text: "Statut " }), statusFilter)),
      results,
    ),
  );

  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () => updateQuery({ page: state.page > 1 ? state.page : "", status: state.status }),
    fetchPage: () => api.get("/api/purchasing/orders/", { query: { page: state.page, page_size: PAGE_SIZE, status: state.status }, signal }),
    show: (page) => {
      if (page.results.length === 0) {
        replace(results, emptyState("Aucune commande.", { iconName: "clipboard", testid: "orders-empty" }));
        return;
      }
      replace(
        results,
        dataTable({
          caption: "Commandes fournisseurs",
          testid: "orders-table",
          rows: page.results,
          rowAttrs: (o) => ({ dataset: { testid: "order-row", orderId: o.id, status: o.status } }),
          columns: [
            { label: "N°", cell: (o) => h("a", { href: `#/commandes/${o.id}`, text: `Commande ${o.id}` }) },
            { label: "Fournisseur", wide: true, cell: (o) => o.supplier_name },
            { label: "Statut", cell: (o) => orderBadge(o.status) },
            { label: "Lignes", numeric: true, cell: (o) => formatNumber(o.line_count) },
            { label: "Montant", numeric: true, cell: (o) => formatCents(o.total_cents, o.currency) },
            { label: "Créée", cell: (o) => `${formatDateTime(o.created_at)} par ${o.created_by}` },
          ],
        }),
        pagination({ page: state.page, pageSize: PAGE_SIZE, count: page.count, noun: ["commande", "commandes"], onChange: goToPage }),
      );
    },
  });
  bindFilters({ state, reload: load, selects: { status: statusFilter } });
  await load();
}

function orderForm({ signal, onCreated }) {
  const supplier = field({ label: "Fournisseur", name: "supplier_id", required: true, control: select([["", "Chargement…"]], { dataset: { testid: "order-supplier" } }) });
  const lines = field({
    label: "Lignes",
    name: "lines",
    hint: "Une ligne par pièce : « RÉFÉRENCE QUANTITÉ » (VIS-M6 100). Le prix vient de l’offre du fournisseur.",
    control: h("textarea", { class: "input", rows: 5, autocomplete: "off", spellcheck: "false", dataset: { testid: "order-lines" } }),
  });
  const message = messageArea("order-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "order-create" } }, h("span", { text: "Créer le brouillon" }));
  const form = h("form", { class: "form", novalidate: true }, supplier.wrapper, lines.wrapper, message, submit);
  loadSuppliers(signal)
    .then((all) => setOptions(supplier.control, [["", "— Choisir —"], ...all.map((s) => [s.id, s.name])], ""))
    .catch(() => setOptions(supplier.control, [["", "Fournisseurs indisponibles"]]));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    supplier.setError("");
    lines.setError("");
    message.clear();
    if (!supplier.control.value) {
      supplier.setError("Choisissez le fournisseur.");
      supplier.control.focus();
      return;
    }
    setBusy(submit, true, "Création…");
    try {
      const typed = await findPieces(lines.control.value, signal);
      if (typed.unknown.length) {
        lines.setError(`Références inconnues : ${typed.unknown.join(", ")}.`);
        lines.control.focus();
        return;
      }
      const body = { supplier_id: Number(supplier.control.value), lines: typed.lines.map((l) => ({ piece_id: l.piece.id, quantity: l.quantity })) };
      const { data } = await api.post("/api/purchasing/orders/", body, { signal });
      onCreated(data);
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) {
        lines.setError(error.message);
        return;
      }
      message.show(error.french(), "error");
      const fields = fieldMessages(error);
      if (fields.supplier_id) supplier.setError(fields.supplier_id);
      if (fields.lines) lines.setError(fields.lines);
    } finally {
      setBusy(submit, false);
    }
  });
  return h(
    "section",
    { class: "card split__aside", "aria-labelledby": "nouvelle-commande-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "nouvelle-commande-titre", text: "Nouvelle commande" })),
    h("div", { class: "card__body" }, form),
  );
}
