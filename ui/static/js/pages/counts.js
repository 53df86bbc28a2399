// Inventaires : la liste, et l'ouverture du comptage d'un emplacement
// (magasinier et au-dessus).

import { api } from "../api.js";
import { h, replace, field, input, select, setOptions, messageArea, setBusy, formatDateTime, formatNumber, loading, emptyState } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, pageFromQuery } from "../ui.js";
import { may } from "../session.js";
import { ApiError, fieldMessages } from "../errors.js";
import { loadLocations, locationOptions } from "../locations.js";
import { COUNT_STATUSES } from "../labels.js";

export const name = "inventaires";
export const title = () => "Inventaires";

const PAGE_SIZE = 20;

export async function render({ container, query, signal, navigate, updateQuery }) {
  const state = { page: pageFromQuery(query) };
  container.append(
    pageHeader("Inventaires", {
      subtitle: "Compter un emplacement, voir les écarts, les valider : chaque écart devient un ajustement, une seule fois.",
    }),
  );
  const layout = h("div", { class: may.count() ? "split" : "" });
  container.append(layout);
  if (may.count()) layout.append(openingForm({ signal, onOpened: (count) => navigate(`/inventaires/${count.id}`) }));

  const results = h("div", { class: "results", dataset: { testid: "counts" } }, loading("Chargement des inventaires…"));
  layout.append(
    h(
      "section",
      { class: "card card--flush split__main", "aria-labelledby": "inventaires-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "inventaires-titre", text: "Inventaires récents" })),
      results,
    ),
  );

  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () => updateQuery({ page: state.page > 1 ? state.page : "" }),
    fetchPage: () => api.get("/api/stock/counts/", { query: { page: state.page, page_size: PAGE_SIZE }, signal }),
    show: (page) => {
      if (page.results.length === 0) {
        replace(results, emptyState("Aucun inventaire pour l’instant.", { iconName: "clipboard", testid: "counts-empty" }));
        return;
      }
      replace(
        results,
        dataTable({
          caption: "Inventaires",
          testid: "counts-table",
          rows: page.results,
          rowAttrs: (c) => ({ dataset: { testid: "count-row", countId: c.id, status: c.status } }),
          columns: [
            { label: "N°", cell: (c) => h("a", { href: `#/inventaires/${c.id}`, text: `Inventaire ${c.id}` }) },
            { label: "Emplacement", wide: true, cell: (c) => h("span", { class: "cell-stack" }, h("span", { class: "ref", text: c.location_code }), h("span", { class: "muted small", text: c.location_name })) },
            { label: "Statut", cell: (c) => h("span", { class: ["tag", c.status === "open" && "tag--warning"], text: COUNT_STATUSES[c.status] || c.status }) },
            { label: "Comptées", numeric: true, cell: (c) => `${formatNumber(c.lines_counted)} / ${formatNumber(c.lines_total)}` },
            { label: "Ouvert", cell: (c) => `${formatDateTime(c.opened_at)} par ${c.opened_by}` },
          ],
        }),
        pagination({ page: state.page, pageSize: PAGE_SIZE, count: page.count, noun: ["inventaire", "inventaires"], onChange: goToPage }),
      );
    },
  });
  await load();
}

function openingForm({ signal, onOpened }) {
  const place = field({ label: "Emplacement à compter", name: "location_id", required: true, control: select([["", "Chargement…"]], { dataset: { testid: "count-location" } }) });
  const note = field({ label: "Note", name: "note", hint: "Facultative : inventaire annuel, bac B…", control: input({ maxlength: 1000, autocomplete: "off" }) });
  const message = messageArea("count-open-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "count-open" } }, h("span", { text: "Ouvrir l’inventaire" }));
  const form = h("form", { class: "form", novalidate: true }, place.wrapper, note.wrapper, message, submit);
  loadLocations(signal)
    .then((locations) => setOptions(place.control, locationOptions(locations, ["", "— Choisir —"]), ""))
    .catch(() => setOptions(place.control, [["", "Emplacements indisponibles"]]));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    place.setError("");
    message.clear();
    if (!place.control.value) {
      place.setError("Choisissez l’emplacement à compter.");
      place.control.focus();
      return;
    }
    setBusy(submit, true, "Ouverture…");
    try {
      const { data } = await api.post("/api/stock/counts/", { location_id: Number(place.control.value), note: note.control.value.trim() || null }, { signal });
      onOpened(data);
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
      const fields = fieldMessages(error);
      if (fields.location_id) place.setError(fields.location_id);
    } finally {
      setBusy(submit, false);
    }
  });
  return h(
    "section",
    { class: "card split__aside", "aria-labelledby": "ouvrir-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "ouvrir-titre", text: "Ouvrir un inventaire" })),
    h(
      "div",
      { class: "card__body" },
      h("p", { class: "muted small", text: "L’ouverture fige ce que l’emplacement détient ; les mouvements faits pendant le comptage restent comptés." }),
      form,
    ),
  );
}
