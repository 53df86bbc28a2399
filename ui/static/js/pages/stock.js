// Stock : niveaux (ok / bas / rupture), filtrés par emplacement au besoin,
// et formulaire de mouvement.

import { api } from "../api.js";
import { h, icon, replace, field, input, select, setOptions, button, formatNumber, formatDateTime, plural, loading, emptyState } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, bindFilters, pageFromQuery, choiceFromQuery, statusBadge } from "../ui.js";
import { may } from "../session.js";
import { movementForm } from "../movement-form.js";
import { loadLocations, locationOptions } from "../locations.js";

export const name = "stock";
export const title = () => "Stock";

const PAGE_SIZE = 25;

const STATUSES = [
  ["", "Tous"],
  ["ok", "OK"],
  ["low", "Bas"],
  ["out", "Rupture"],
];

const ORDERINGS = [
  ["reference", "Référence"],
  ["name", "Nom"],
  ["quantity", "Quantité croissante"],
  ["-quantity", "Quantité décroissante"],
  ["-updated_at", "Dernier mouvement"],
];

export async function render({ container, query, signal, updateQuery }) {
  const state = {
    search: query.get("search") || "",
    status: choiceFromQuery(query, "status", STATUSES, ""),
    ordering: choiceFromQuery(query, "ordering", ORDERINGS, "reference"),
    location: /^\d+$/.test(query.get("location") || "") ? query.get("location") : "",
    page: pageFromQuery(query),
  };
  const preselect = Number.parseInt(query.get("piece"), 10) || null;

  container.append(
    pageHeader("Stock", {
      subtitle: may.recordMovement() ? "Niveaux de chaque pièce et saisie des mouvements." : "Niveaux de chaque pièce.",
      actions: [h("a", { class: "btn", href: "#/historique" }, icon("history"), h("span", { text: "Historique" }))],
    }),
  );

  const layout = h("div", { class: may.recordMovement() ? "split" : "" });
  container.append(layout);

  // --- Formulaire de mouvement (magasinier et au-dessus) ----------------------------
  let form = null;
  if (may.recordMovement()) {
    form = movementForm({ signal, onRecorded: () => load() });
    layout.append(
      h(
        "section",
        { class: "card split__aside", "aria-labelledby": "mouvement-titre" },
        h("div", { class: "card__header" }, h("h2", { id: "mouvement-titre", text: "Nouveau mouvement" })),
        h("div", { class: "card__body" }, form.element),
      ),
    );
  }

  // --- Niveaux ----------------------------------------------------------------------
  const search = field({ label: "Rechercher", name: "search", control: input({ type: "search", value: state.search, placeholder: "Référence ou nom", autocomplete: "off", dataset: { testid: "stock-search" } }) });
  const status = field({ label: "Statut", name: "status", control: select(STATUSES, { value: state.status, dataset: { testid: "stock-status" } }) });
  const ordering = field({ label: "Trier par", name: "ordering", control: select(ORDERINGS, { value: state.ordering }) });
  const place = field({
    label: "Emplacement",
    name: "location",
    hint: "Avec ses sous-emplacements.",
    control: select([["", "Tous"]], { dataset: { testid: "stock-location" } }),
  });
  loadLocations(signal)
    .then((locations) => setOptions(place.control, locationOptions(locations, ["", "Tous"]), state.location))
    .catch(() => {});
  const results = h("div", { class: "results", dataset: { testid: "levels" } }, loading("Chargement des niveaux…"));
  const live = h("p", { class: "sr-only", "aria-live": "polite" });
  layout.append(
    h(
      "section",
      { class: "card card--flush split__main", "aria-labelledby": "niveaux-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "niveaux-titre", text: "Niveaux de stock" })),
      h("div", { class: "card__body" }, h("form", { class: "filters", role: "search", "aria-label": "Filtrer les niveaux", on: { submit: (e) => e.preventDefault() } }, search.wrapper, place.wrapper, status.wrapper, ordering.wrapper)),
      results,
      live,
    ),
  );

  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () =>
      updateQuery({ search: state.search, location: state.location, status: state.status, ordering: state.ordering === "reference" ? "" : state.ordering, page: state.page > 1 ? state.page : "" }),
    fetchPage: () =>
      api.get("/api/stock/", { query: { search: state.search, location: state.location, status: state.status, ordering: state.ordering, page: state.page, page_size: PAGE_SIZE }, signal }),
    show: (page) => {
      renderLevels(page);
      live.textContent = `${plural(page.count, "niveau affiché", "niveaux affichés")}.`;
    },
  });

  function renderLevels(page) {
    if (page.results.length === 0) {
      const filtered = state.search || state.status || state.location;
      replace(
        results,
        emptyState(
          filtered ? "Aucun niveau ne correspond à ces critères." : "Aucune pièce active au catalogue pour l’instant : une pièce apparaît ici dès sa création.",
          { iconName: filtered ? "search" : "box", testid: "levels-empty" },
        ),
      );
      return;
    }
    const columns = [
      {
        label: "Pièce",
        wide: true,
        cell: (l) =>
          h(
            "span",
            { class: "cell-stack" },
            h("span", { class: "cell-main" }, h("a", { href: `#/pieces/${l.piece_id}`, class: "ref", text: l.reference }), l.archived ? h("span", { class: "tag", text: "Archivée" }) : null),
            h("span", { class: "muted small", text: l.name }),
          ),
      },
      {
        label: "Quantité / seuil",
        numeric: true,
        cell: (l) => h("span", { class: "nowrap" }, h("strong", { class: "qty", dataset: { testid: "level-quantity" }, text: formatNumber(l.quantity) }), h("span", { class: "muted", text: ` / ${formatNumber(l.min_stock)}` })),
      },
      ...(state.location
        ? [{ label: "Ici", numeric: true, cell: (l) => h("strong", { class: "qty", dataset: { testid: "level-here" }, text: formatNumber(l.location_quantity) }) }]
        : []),
      { label: "Statut", cell: (l) => statusBadge(l.status) },
      { label: "Dernier mouvement", cell: (l) => (l.updated_at ? formatDateTime(l.updated_at) : "Aucun") },
    ];
    if (form) {
      columns.push({
        label: "Action",
        className: "actions-cell",
        cell: (l) =>
          l.archived
            ? null
            : button("Mouvement", {
                class: "btn btn--small",
                "aria-label": `Mouvement pour ${l.reference}`,
                on: { click: () => form.selectPiece(l.piece_id) },
              }, "plus"),
      });
    }
    replace(
      results,
      dataTable({
        caption: "Niveaux de stock",
        testid: "levels-table",
        rows: page.results,
        rowAttrs: (l) => ({ class: `row--${l.status}`, dataset: { testid: "level-row", pieceId: l.piece_id, reference: l.reference, status: l.status } }),
        columns,
      }),
      pagination({
        page: state.page,
        pageSize: PAGE_SIZE,
        count: page.count,
        noun: ["niveau", "niveaux"],
        onChange: goToPage,
      }),
    );
  }

  bindFilters({ state, reload: load, search: search.control, selects: { location: place.control, status: status.control, ordering: ordering.control } });

  await load();
  if (form && preselect) form.selectPiece(preselect);
}
