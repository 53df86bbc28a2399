// Catalogue des pièces : recherche, catégorie, tri, pages ; import et export CSV.

import { api, download } from "../api.js";
import { h, icon, replace, field, input, select, setOptions, button, formatPrice, formatNumber, plural, loading, emptyState, messageArea, setBusy, saveBlob } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, bindFilters, pageFromQuery, choiceFromQuery, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError, labelFieldPrefix, looksFrench } from "../errors.js";

export const name = "pieces";
export const title = () => "Pièces";

const PAGE_SIZE = 25;

const ORDERINGS = [
  ["reference", "Référence (A → Z)"],
  ["-reference", "Référence (Z → A)"],
  ["name", "Nom (A → Z)"],
  ["-name", "Nom (Z → A)"],
  ["-updated_at", "Modifiées récemment"],
  ["updated_at", "Modifiées il y a longtemps"],
];

const STATES = [
  ["actives", "Actives"],
  ["archivees", "Archivées"],
  ["toutes", "Toutes"],
];

function archivedParam(state) {
  if (state === "archivees") return "true";
  if (state === "toutes") return undefined;
  return "false";
}

export async function render({ container, query, signal, updateQuery }) {
  const state = {
    search: query.get("search") || "",
    category: query.get("category") || "",
    etat: choiceFromQuery(query, "etat", STATES, "actives"),
    ordering: choiceFromQuery(query, "ordering", ORDERINGS, "reference"),
    page: pageFromQuery(query),
  };

  // --- En-tête et actions ---------------------------------------------------------
  const actions = [];
  const exportBtn = button("Exporter (CSV)", { class: "btn", dataset: { testid: "export-pieces" } }, "download");
  let importPanel = null;
  let importToggle = null;
  if (may.importCatalogue()) {
    importToggle = button("Importer (CSV)", { class: "btn", "aria-expanded": "false", "aria-controls": "import-pieces", dataset: { testid: "import-toggle" } }, "upload");
    actions.push(importToggle);
  }
  actions.push(exportBtn);
  const labelsLink = h("a", { class: "btn", href: "#/etiquettes", dataset: { testid: "pieces-labels" } }, h("span", { text: "Étiquettes de la page" }));
  actions.push(labelsLink);
  if (may.editCatalogue()) {
    actions.push(h("a", { class: "btn btn--primary", href: "#/pieces/nouvelle", dataset: { testid: "new-piece" } }, icon("plus"), h("span", { text: "Nouvelle pièce" })));
  }
  container.append(pageHeader("Pièces", { subtitle: "Le catalogue des pièces de l’atelier.", actions }));

  if (importToggle) {
    importPanel = buildImportPanel(() => load());
    importPanel.hidden = true;
    importToggle.addEventListener("click", () => {
      importPanel.hidden = !importPanel.hidden;
      importToggle.setAttribute("aria-expanded", String(!importPanel.hidden));
      if (!importPanel.hidden) importPanel.querySelector("input")?.focus();
    });
    container.append(importPanel);
  }

  // --- Filtres ----------------------------------------------------------------------
  const search = field({ label: "Rechercher", name: "search", control: input({ type: "search", value: state.search, placeholder: "Référence, nom, code-barres…", autocomplete: "off", dataset: { testid: "pieces-search" } }) });
  const category = field({ label: "Catégorie", name: "category", control: select([["", "Toutes"]], { dataset: { testid: "pieces-category" } }) });
  const etat = field({ label: "État", name: "etat", control: select(STATES, { value: state.etat }) });
  const ordering = field({ label: "Trier par", name: "ordering", control: select(ORDERINGS, { value: state.ordering, dataset: { testid: "pieces-ordering" } }) });
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filtrer les pièces", on: { submit: (e) => e.preventDefault() } }, search.wrapper, category.wrapper, etat.wrapper, ordering.wrapper);
  const live = h("p", { class: "sr-only", "aria-live": "polite" });
  const results = h("div", { class: "results", dataset: { testid: "pieces-results" } }, loading());
  container.append(h("section", { class: "card card--flush", "aria-label": "Liste des pièces" }, h("div", { class: "card__body" }, filters), results), live);

  async function loadCategories() {
    try {
      const list = await api.get("/api/pieces/categories/", { signal });
      const options = [["", "Toutes"], ...list.map((c) => [c.category, `${c.category} (${formatNumber(c.count)})`])];
      if (state.category && !list.some((c) => c.category === state.category)) options.push([state.category, state.category]);
      setOptions(category.control, options, state.category);
    } catch (error) {
      if (error?.name !== "AbortError") setOptions(category.control, [["", "Toutes"]], "");
    }
  }

  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () => {
      updateQuery({ search: state.search, category: state.category, etat: state.etat === "actives" ? "" : state.etat, ordering: state.ordering === "reference" ? "" : state.ordering, page: state.page > 1 ? state.page : "" });
      if (!results.querySelector("table")) replace(results, loading("Chargement des pièces…"));
    },
    fetchPage: () =>
      api.get("/api/pieces/", {
        query: { search: state.search, category: state.category, archived: archivedParam(state.etat), ordering: state.ordering, page: state.page, page_size: PAGE_SIZE },
        signal,
      }),
    show: (page) => {
      labelsLink.href = `#/etiquettes?pieces=${page.results.map((p) => p.id).join(",")}`;
      renderResults(page);
      live.textContent = `${plural(page.count, "pièce trouvée", "pièces trouvées")}.`;
    },
  });

  function renderResults(page) {
    if (page.results.length === 0) {
      const filtered = state.search || state.category || state.etat !== "actives";
      replace(
        results,
        emptyState(filtered ? "Aucune pièce ne correspond à ces critères." : "Le catalogue est vide pour l’instant.", {
          iconName: filtered ? "search" : "box",
          testid: "pieces-empty",
          action: filtered
            ? button("Effacer les filtres", { class: "btn btn--small", on: { click: resetFilters } })
            : may.editCatalogue()
              ? h("a", { class: "btn btn--small btn--primary", href: "#/pieces/nouvelle", text: "Créer la première pièce" })
              : null,
        }),
      );
      return;
    }
    replace(
      results,
      dataTable({
        caption: "Pièces du catalogue",
        testid: "pieces-table",
        rows: page.results,
        rowAttrs: (p) => ({ dataset: { testid: "piece-row", pieceId: p.id, reference: p.reference } }),
        columns: [
          {
            label: "Référence",
            cell: (p) => h("span", { class: "cell-main" }, h("a", { href: `#/pieces/${p.id}`, class: "ref", text: p.reference }), p.archived ? h("span", { class: "tag", text: "Archivée" }) : null),
          },
          { label: "Nom", cell: (p) => p.name },
          { label: "Catégorie", cell: (p) => p.category },
          { label: "Emplacement", cell: (p) => p.location },
          { label: "Prix", numeric: true, cell: (p) => formatPrice(p.price) },
          { label: "Seuil min.", numeric: true, cell: (p) => `${formatNumber(p.min_stock)} ${p.unit}` },
        ],
      }),
      pagination({
        page: state.page,
        pageSize: PAGE_SIZE,
        count: page.count,
        noun: ["pièce", "pièces"],
        onChange: (n) => goToPage(n).then(() => results.querySelector("table")?.scrollIntoView({ block: "start" })),
      }),
    );
  }

  function resetFilters() {
    state.search = "";
    state.category = "";
    state.etat = "actives";
    state.page = 1;
    search.control.value = "";
    category.control.value = "";
    etat.control.value = "actives";
    load();
    search.control.focus();
  }

  bindFilters({ state, reload: load, search: search.control, selects: { category: category.control, etat: etat.control, ordering: ordering.control } });

  exportBtn.addEventListener("click", async () => {
    setBusy(exportBtn, true, "Export…");
    try {
      const { blob, name: fileName } = await download("/api/pieces/export.csv", { search: state.search, category: state.category, archived: archivedParam(state.etat), ordering: state.ordering }, "pieces.csv");
      saveBlob(blob, fileName);
      toast("Export téléchargé.");
    } catch (error) {
      if (error?.name !== "AbortError") toast(error instanceof ApiError ? error.french() : "L’export a échoué.", "error");
    } finally {
      setBusy(exportBtn, false);
    }
  });

  await Promise.all([loadCategories(), load()]);
}

/** Le panneau d'import CSV (manager+). */
function buildImportPanel(onImported) {
  const file = field({
    label: "Fichier CSV",
    name: "file",
    hint: "Colonnes : reference, name, description, category, unit, price, min_stock, location, barcode, archived (séparateur virgule, UTF-8). Les pièces existantes sont mises à jour d’après leur référence ; à la moindre erreur, rien n’est importé.",
    control: input({ type: "file", accept: ".csv,text/csv", dataset: { testid: "import-file" } }),
  });
  const submit = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "import-submit" } }, icon("upload"), h("span", { text: "Importer" }));
  const message = messageArea("import-message");
  const errors = h("div", { class: "import-errors", dataset: { testid: "import-errors" } });
  const form = h("form", { class: "form form--inline-actions", novalidate: true }, file.wrapper, h("div", { class: "form__actions" }, submit), message, errors);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    file.setError("");
    message.clear();
    errors.replaceChildren();
    const chosen = file.control.files?.[0];
    if (!chosen) {
      file.setError("Choisissez un fichier CSV.");
      file.control.focus();
      return;
    }
    setBusy(submit, true, "Import…");
    try {
      const text = await chosen.text();
      const { data } = await api.post("/api/pieces/import/", text, { headers: { "Content-Type": "text/csv" } });
      message.show(`Import terminé : ${plural(data.created, "pièce créée", "pièces créées")}, ${plural(data.updated, "mise à jour", "mises à jour")}, ${plural(data.unchanged, "inchangée", "inchangées")}.`, "success");
      file.control.value = "";
      onImported();
    } catch (error) {
      if (!(error instanceof ApiError)) {
        message.show("Le fichier n’a pas pu être lu.", "error");
        return;
      }
      const lines = Object.entries(error.fields)
        .filter(([key]) => /^ligne \d+$/.test(key))
        .sort(([a], [b]) => Number(a.slice(6)) - Number(b.slice(6)));
      if (lines.length > 0) {
        message.show(`Rien n’a été importé : ${plural(lines.length, "ligne comporte", "lignes comportent")} des erreurs.`, "error");
        errors.append(
          h(
            "ul",
            { class: "error-list" },
            lines.map(([key, messages]) => h("li", {}, h("strong", { text: `Ligne ${key.slice(6)}` }), h("ul", {}, messages.map((m) => h("li", { text: labelFieldPrefix(m) }))))),
          ),
        );
      } else if (error.status === 400 && looksFrench(error.detail)) {
        message.show(`Fichier refusé : ${error.detail}`, "error");
      } else {
        message.show(error.french({ badRequest: "Fichier refusé : ce n’est pas un CSV de pièces valide." }), "error");
      }
    } finally {
      setBusy(submit, false);
    }
  });

  return h(
    "section",
    { class: "card", id: "import-pieces", "aria-labelledby": "import-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "import-titre", text: "Importer des pièces" })),
    h("div", { class: "card__body" }, form),
  );
}
