// Historique des mouvements : filtres, annulation (gestionnaire), export CSV.

import { api, download } from "../api.js";
import { h, icon, replace, field, input, select, setOptions, button, formatNumber, formatDateTime, formatSigned, plural, loading, emptyState, setBusy, saveBlob } from "../dom.js";
import { pageHeader, historyTabs, dataTable, pagination, pagedList, pageFromQuery, choiceFromQuery, movementBadge, movementPlace, confirmDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { refreshBellSoon } from "../bell.js";
import { REASONS } from "../labels.js";
import { loadLocations, locationOptions } from "../locations.js";
import { ApiError } from "../errors.js";

export const name = "historique";
export const title = () => "Historique";

const PAGE_SIZE = 25;
const TYPES = [
  ["", "Tous"],
  ["IN", "Entrée"],
  ["OUT", "Sortie"],
  ["ADJUST", "Ajustement"],
  ["TRANSFER", "Transfert"],
];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export async function render({ container, query, signal, updateQuery }) {
  const state = {
    piece_id: Number.parseInt(query.get("piece_id"), 10) || "",
    type: choiceFromQuery(query, "type", TYPES, ""),
    location_id: Number.parseInt(query.get("location_id"), 10) || "",
    user: query.get("user") || "",
    date_from: DATE.test(query.get("date_from") || "") ? query.get("date_from") : "",
    date_to: DATE.test(query.get("date_to") || "") ? query.get("date_to") : "",
    page: pageFromQuery(query),
  };

  const exportBtn = button("Exporter (CSV)", { class: "btn", dataset: { testid: "export-movements" } }, "download");
  container.append(pageHeader("Historique", { subtitle: "Tous les mouvements, du plus récent au plus ancien.", actions: [exportBtn] }), historyTabs("#/historique"));

  // --- Filtres ----------------------------------------------------------------------
  const piece = field({ label: "Pièce", name: "piece_id", control: select([["", "Toutes les pièces"]], { dataset: { testid: "history-piece" } }) });
  const type = field({ label: "Type", name: "type", control: select(TYPES, { value: state.type, dataset: { testid: "history-type" } }) });
  const place = field({ label: "Emplacement", name: "location_id", control: select([["", "Tous"]], { dataset: { testid: "history-location" } }) });
  loadLocations(signal)
    .then((locations) => setOptions(place.control, locationOptions(locations, ["", "Tous"]), state.location_id))
    .catch(() => {});
  const userList = h("datalist", { id: "historique-utilisateurs" });
  const user = field({ label: "Utilisateur", name: "user", hint: "Nom exact", control: input({ value: state.user, list: "historique-utilisateurs", autocomplete: "off", spellcheck: "false", dataset: { testid: "history-user" } }) });
  const from = field({ label: "Du", name: "date_from", className: "field--date", control: input({ type: "date", value: state.date_from, dataset: { testid: "history-from" } }) });
  const to = field({ label: "Au", name: "date_to", className: "field--date", control: input({ type: "date", value: state.date_to, dataset: { testid: "history-to" } }) });
  const apply = h("button", { type: "submit", class: "btn btn--primary" }, icon("search"), h("span", { text: "Filtrer" }));
  const reset = button("Réinitialiser", { class: "btn btn--ghost" });
  const filters = h(
    "form",
    { class: "filters filters--history", role: "search", "aria-label": "Filtrer les mouvements", novalidate: true },
    piece.wrapper,
    type.wrapper,
    place.wrapper,
    user.wrapper,
    from.wrapper,
    to.wrapper,
    h("div", { class: "filters__actions" }, reset, apply),
    userList,
  );
  const results = h("div", { class: "results", dataset: { testid: "history-results" } }, loading("Chargement des mouvements…"));
  const live = h("p", { class: "sr-only", "aria-live": "polite" });
  container.append(h("section", { class: "card card--flush", "aria-label": "Mouvements" }, h("div", { class: "card__body" }, filters), results, live));

  // Les pièces (et l'éventuelle pièce filtrée) pour la liste de choix.
  async function loadPieces() {
    try {
      const page = await api.get("/api/pieces/", { query: { ordering: "reference", page_size: 200 }, signal });
      const options = [["", "Toutes les pièces"], ...page.results.map((p) => [p.id, `${p.reference} — ${p.name}${p.archived ? " (archivée)" : ""}`])];
      if (state.piece_id && !page.results.some((p) => p.id === state.piece_id)) {
        options.push([state.piece_id, `Pièce n° ${state.piece_id}`]);
      }
      setOptions(piece.control, options, state.piece_id);
    } catch {
      setOptions(piece.control, state.piece_id ? [["", "Toutes les pièces"], [state.piece_id, `Pièce n° ${state.piece_id}`]] : [["", "Toutes les pièces"]], state.piece_id);
    }
  }

  async function loadUsers() {
    if (!may.manageUsers()) return;
    try {
      const page = await api.get("/api/auth/users/", { query: { page_size: 200, ordering: "username" }, signal });
      userList.replaceChildren(...page.results.map((u) => h("option", { value: u.username })));
    } catch {
      /* liste facultative */
    }
  }

  let lastPage = null;
  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () => updateQuery({ ...filterQuery(), page: state.page > 1 ? state.page : "" }),
    fetchPage: () => api.get("/api/stock/movements/", { query: { ...filterQuery(), page: state.page, page_size: PAGE_SIZE }, signal }),
    show: (page) => {
      lastPage = page;
      renderRows(page);
      live.textContent = `${plural(page.count, "mouvement trouvé", "mouvements trouvés")}.`;
    },
    errorContext: { badRequest: "Filtres invalides : vérifiez les dates." },
  });

  function filterQuery() {
    return { piece_id: state.piece_id, type: state.type, location_id: state.location_id, user: state.user, date_from: state.date_from, date_to: state.date_to };
  }

  function renderRows(page) {
    if (page.results.length === 0) {
      const filtered = Object.values(filterQuery()).some(Boolean);
      replace(results, emptyState(filtered ? "Aucun mouvement ne correspond à ces filtres." : "Aucun mouvement enregistré pour l’instant.", { iconName: filtered ? "search" : "history", testid: "history-empty" }));
      return;
    }
    // Mouvements annulés visibles sur cette page.
    const reversed = new Set(page.results.filter((m) => m.reverses).map((m) => m.reverses));
    const columns = [
      { label: "Date", cell: (m) => h("span", {}, formatDateTime(m.created_at), h("span", { class: "muted block small", text: `n° ${m.id}` })) },
      { label: "Pièce", wide: true, cell: (m) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${m.piece_id}`, class: "ref", text: m.reference }), h("span", { class: "muted small", text: m.name })) },
      { label: "Type", cell: (m) => movementBadge(m.type) },
      { label: "Emplacement", cell: movementPlace },
      {
        label: "Variation",
        numeric: true,
        cell: (m) =>
          h(
            "span",
            { class: "cell-stack cell-stack--end" },
            h("span", { class: ["delta", m.delta > 0 ? "delta--up" : m.delta < 0 ? "delta--down" : ""], text: formatSigned(m.delta) }),
            m.type === "ADJUST" ? h("span", { class: "muted small nowrap", text: `compté : ${formatNumber(m.quantity)}` }) : null,
            m.type === "TRANSFER" ? h("span", { class: "muted small nowrap", text: `transféré : ${formatNumber(m.quantity)}` }) : null,
          ),
      },
      { label: "Niveau après", numeric: true, cell: (m) => formatNumber(m.level_after) },
      {
        label: "Motif et note",
        wide: true,
        cell: (m) => {
          const note = m.reverses ? `Annule le mouvement n° ${m.reverses}` : m.note;
          if (!m.reason && !note) return null;
          return h("span", { class: "cell-stack" }, m.reason ? h("span", { text: REASONS[m.reason] || m.reason }) : null, note ? h("span", { class: "muted small", text: note }) : null);
        },
      },
      { label: "Par", cell: (m) => m.user },
    ];
    if (may.reverse()) {
      columns.push({
        label: "Action",
        className: "actions-cell",
        cell: (m) => {
          if (m.reverses) return h("span", { class: "tag", text: "Annulation" });
          if (reversed.has(m.id)) return h("span", { class: "tag", text: "Annulé" });
          if (m.delta === 0) return null;
          return button("Annuler", { class: "btn btn--small btn--danger-ghost", "aria-label": `Annuler le mouvement n° ${m.id}`, dataset: { testid: "reverse-movement" }, on: { click: (event) => reverse(m, event.currentTarget) } }, "undo");
        },
      });
    }
    replace(
      results,
      dataTable({ caption: "Mouvements", testid: "history-table", rows: page.results, rowAttrs: (m) => ({ dataset: { testid: "movement-row", movementId: m.id } }), columns }),
      pagination({
        page: state.page,
        pageSize: PAGE_SIZE,
        count: page.count,
        noun: ["mouvement", "mouvements"],
        onChange: goToPage,
      }),
    );
  }

  async function reverse(movement, btn) {
    const ok = await confirmDialog({
      title: `Annuler le mouvement n° ${movement.id} ?`,
      message: `Un mouvement inverse (${formatSigned(-movement.delta)} sur ${movement.reference}) sera enregistré. Un mouvement ne s’annule qu’une fois.`,
      confirmLabel: "Annuler le mouvement",
      cancelLabel: "Ne rien faire",
      danger: true,
    });
    if (!ok) return;
    setBusy(btn, true, "…");
    try {
      const { data } = await api.post(`/api/stock/movements/${movement.id}/reverse/`, undefined);
      toast(`Mouvement n° ${movement.id} annulé : niveau de ${data.reference} ramené à ${formatNumber(data.level_after)}.`);
      refreshBellSoon();
      load();
    } catch (error) {
      if (btn.isConnected) setBusy(btn, false);
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  function readFilters() {
    from.setError("");
    to.setError("");
    const values = {
      piece_id: Number.parseInt(piece.control.value, 10) || "",
      type: type.control.value,
      location_id: Number.parseInt(place.control.value, 10) || "",
      user: user.control.value.trim(),
      date_from: from.control.value,
      date_to: to.control.value,
    };
    if (values.date_from && values.date_to && values.date_from > values.date_to) {
      to.setError("La date de fin précède la date de début.");
      to.control.focus();
      return null;
    }
    return values;
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = readFilters();
    if (!values) return;
    Object.assign(state, values, { page: 1 });
    load();
  });
  for (const control of [piece.control, type.control, place.control]) {
    control.addEventListener("change", () => filters.requestSubmit());
  }
  reset.addEventListener("click", () => {
    piece.control.value = "";
    type.control.value = "";
    place.control.value = "";
    user.control.value = "";
    from.control.value = "";
    to.control.value = "";
    filters.requestSubmit();
  });

  exportBtn.addEventListener("click", async () => {
    setBusy(exportBtn, true, "Export…");
    try {
      const { blob, name: fileName } = await download("/api/stock/movements/export.csv", filterQuery(), "mouvements.csv");
      saveBlob(blob, fileName);
      toast(lastPage ? `Export téléchargé (${plural(lastPage.count, "mouvement", "mouvements")}).` : "Export téléchargé.");
    } catch (error) {
      if (error?.name !== "AbortError") toast(error instanceof ApiError ? error.french() : "L’export a échoué.", "error");
    } finally {
      setBusy(exportBtn, false);
    }
  });

  await Promise.all([loadPieces(), loadUsers(), load()]);
}
