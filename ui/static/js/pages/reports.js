// Rapports : consommation, pièces les plus utilisées, valeur du stock (à une
// date passée aussi), stock dormant, ruptures les plus longues. Chaque carte
// a son diagramme (SVG), son tableau et son export CSV.

import { api, download } from "../api.js";
import { h, icon, replace, field, input, select, button, formatNumber, formatDateTime, plural, loading, emptyState, loadError, setBusy, saveBlob } from "../dom.js";
import { pageHeader, historyTabs, dataTable, choiceFromQuery, toast } from "../ui.js";
import { barChart } from "../charts.js";
import { ApiError, frenchMessage } from "../errors.js";

export const name = "rapports";
export const title = () => "Rapports";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const BY = [
  ["month", "Mois"],
  ["week", "Semaine"],
];
const GROUP = [
  ["category", "Catégorie"],
  ["piece", "Pièce"],
];
const euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
const monthName = new Intl.DateTimeFormat("fr-FR", { month: "short", year: "numeric", timeZone: "UTC" });
const dayName = new Intl.DateTimeFormat("fr-FR", { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" });

const money = (cents) => euros.format((cents || 0) / 100);
const category = (name) => name || "Sans catégorie";

/** « nov. 2026 » pour un mois, « sem. du 23/11/2026 » pour une semaine. */
function periodLabel(period) {
  if (/^\d{4}-\d{2}$/.test(period)) return monthName.format(new Date(`${period}-01T00:00:00Z`));
  if (DATE.test(period)) return `sem. du ${dayName.format(new Date(`${period}T00:00:00Z`))}`;
  return period;
}

function dateOrEmpty(value) {
  return DATE.test(value || "") ? value : "";
}

export async function render({ container, query, signal, updateQuery }) {
  const state = {
    date_from: dateOrEmpty(query.get("date_from")),
    date_to: dateOrEmpty(query.get("date_to")),
    by: choiceFromQuery(query, "by", BY, "month"),
    group: choiceFromQuery(query, "group", GROUP, "category"),
    at: dateOrEmpty(query.get("at")),
    days: Number.parseInt(query.get("days"), 10) || 90,
  };
  container.append(pageHeader("Rapports", { subtitle: "Consommation, valeur et rotation du stock, calculées sur le registre des mouvements (heures UTC)." }), historyTabs("#/rapports"));

  // --- Période (consommation et pièces les plus utilisées) ---------------------------
  const from = field({ label: "Du", name: "date_from", className: "field--date", control: input({ type: "date", value: state.date_from, dataset: { testid: "reports-from" } }) });
  const to = field({ label: "Au", name: "date_to", className: "field--date", control: input({ type: "date", value: state.date_to, dataset: { testid: "reports-to" } }) });
  const by = field({ label: "Par", name: "by", control: select(BY, { value: state.by, dataset: { testid: "reports-by" } }) });
  const group = field({ label: "Regrouper par", name: "group", control: select(GROUP, { value: state.group, dataset: { testid: "reports-group" } }) });
  const apply = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "reports-apply" } }, icon("search"), h("span", { text: "Afficher" }));
  const periodForm = h("form", { class: "filters", "aria-label": "Période des rapports", novalidate: true }, from.wrapper, to.wrapper, by.wrapper, group.wrapper, h("div", { class: "filters__actions" }, apply));
  container.append(h("section", { class: "card", "aria-label": "Période" }, h("div", { class: "card__body" }, periodForm, h("p", { class: "muted small", text: "Sans dates : les douze derniers mois. Une sortie annulée ne compte pas comme consommée." }))));

  const periodQuery = () => ({ date_from: state.date_from, date_to: state.date_to });

  const consumption = reportCard({
    id: "rapport-consommation",
    title: "Consommation",
    testid: "report-consumption",
    path: "/api/stock/reports/consumption/",
    query: () => ({ ...periodQuery(), by: state.by, group: state.group }),
    file: "consommation.csv",
    show(report) {
      const totals = new Map();
      for (const row of report.rows) totals.set(row.period, (totals.get(row.period) || 0) + row.quantity);
      const what = report.group === "piece" ? "Pièce" : "Catégorie";
      return {
        summary: `${plural(report.quantity, "unité utilisée", "unités utilisées")} du ${dayName.format(new Date(report.date_from))} au ${dayName.format(new Date(report.date_to))}.`,
        chart: barChart({
          title: `Consommation par ${report.by === "week" ? "semaine" : "mois"}`,
          testid: "chart-consumption",
          rows: [...totals].map(([period, quantity]) => ({ label: periodLabel(period), value: quantity, text: formatNumber(quantity) })),
        }),
        table: dataTable({
          caption: "Consommation par période",
          testid: "table-consumption",
          rows: report.rows,
          columns: [
            { label: "Période", cell: (row) => periodLabel(row.period) },
            {
              label: what,
              wide: true,
              cell: (row) => (report.group === "piece" ? h("a", { href: `#/pieces/${row.piece_id}`, class: "ref", text: row.reference }) : category(row.category)),
            },
            { label: "Utilisé", numeric: true, cell: (row) => formatNumber(row.quantity) },
          ],
        }),
        empty: "Rien n’a été utilisé sur cette période.",
      };
    },
  });

  const movers = reportCard({
    id: "rapport-plus-utilisees",
    title: "Les plus utilisées",
    testid: "report-movers",
    path: "/api/stock/reports/movers/",
    query: () => ({ ...periodQuery(), limit: 10 }),
    file: "plus-utilisees.csv",
    show(report) {
      return {
        chart: barChart({
          title: "Pièces les plus utilisées sur la période",
          testid: "chart-movers",
          rows: report.rows.map((row) => ({ label: row.reference, value: row.quantity, text: formatNumber(row.quantity) })),
        }),
        table: dataTable({
          caption: "Pièces les plus utilisées",
          testid: "table-movers",
          rows: report.rows,
          columns: [
            { label: "Pièce", wide: true, cell: (row) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${row.piece_id}`, class: "ref", text: row.reference }), h("span", { class: "muted small", text: row.name })) },
            { label: "Utilisé", numeric: true, cell: (row) => formatNumber(row.quantity) },
            { label: "Sorties", numeric: true, cell: (row) => formatNumber(row.movements) },
            { label: "En stock", numeric: true, cell: (row) => formatNumber(row.level) },
          ],
        }),
        empty: "Aucune sortie sur cette période.",
      };
    },
  });

  // --- Valeur du stock, aujourd'hui ou à une date --------------------------------
  const at = field({ label: "À la date du", name: "at", hint: "Vide : maintenant", className: "field--date", control: input({ type: "date", value: state.at, dataset: { testid: "reports-at" } }) });
  const value = reportCard({
    id: "rapport-valeur",
    title: "Valeur du stock",
    testid: "report-value",
    path: "/api/stock/reports/value/",
    query: () => ({ at: state.at }),
    file: "valeur-du-stock.csv",
    controls: [at.wrapper],
    show(report) {
      const when = report.at ? `le ${dayName.format(new Date(report.at))} au soir` : "maintenant";
      const unpriced = report.unpriced ? ` ${plural(report.unpriced, "pièce en stock n’a", "pièces en stock n’ont")} pas de prix.` : "";
      return {
        summary: `${money(report.value_cents)} ${when}, ${plural(report.quantity, "unité", "unités")} au prix actuel du catalogue.${unpriced}`,
        chart: barChart({
          title: "Valeur du stock par catégorie",
          testid: "chart-value",
          rows: report.rows.map((row) => ({ label: category(row.category), value: row.value_cents, text: money(row.value_cents) })),
        }),
        table: dataTable({
          caption: "Valeur du stock par catégorie",
          testid: "table-value",
          rows: report.rows,
          columns: [
            { label: "Catégorie", wide: true, cell: (row) => category(row.category) },
            { label: "Pièces", numeric: true, cell: (row) => formatNumber(row.pieces) },
            { label: "Quantité", numeric: true, cell: (row) => formatNumber(row.quantity) },
            { label: "Valeur", numeric: true, cell: (row) => money(row.value_cents) },
          ],
        }),
        empty: "Aucun stock à cette date.",
      };
    },
  });
  at.control.addEventListener("change", () => {
    state.at = dateOrEmpty(at.control.value);
    remember();
    value.load();
  });

  // --- Stock dormant -------------------------------------------------------------
  const days = field({ label: "Sans mouvement depuis (jours)", name: "days", control: input({ type: "number", min: 1, max: 3650, value: state.days, inputmode: "numeric", dataset: { testid: "reports-days" } }) });
  const dormant = reportCard({
    id: "rapport-dormant",
    title: "Stock dormant",
    testid: "report-dormant",
    path: "/api/stock/reports/dormant/",
    query: () => ({ days: state.days }),
    file: "stock-dormant.csv",
    controls: [days.wrapper],
    show(report) {
      return {
        summary: `${plural(report.count, "pièce immobile", "pièces immobiles")} depuis ${plural(report.days, "jour")}, pour ${money(report.value_cents)}${report.count > report.rows.length ? ` (les ${report.rows.length} plus coûteuses ci-dessous)` : ""}.`,
        table: dataTable({
          caption: "Stock dormant, le plus coûteux d’abord",
          testid: "table-dormant",
          rows: report.rows,
          columns: [
            { label: "Pièce", wide: true, cell: (row) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${row.piece_id}`, class: "ref", text: row.reference }), h("span", { class: "muted small", text: row.name })) },
            { label: "Quantité", numeric: true, cell: (row) => formatNumber(row.quantity) },
            { label: "Valeur", numeric: true, cell: (row) => (row.price_cents ? money(row.value_cents) : "sans prix") },
            { label: "Dernier mouvement", cell: (row) => formatDateTime(row.last_movement_at) },
          ],
        }),
        empty: "Tout ce qui est en stock a bougé sur cette durée.",
      };
    },
  });
  days.control.addEventListener("change", () => {
    const wanted = Number.parseInt(days.control.value, 10);
    if (!(wanted >= 1 && wanted <= 3650)) return;
    state.days = wanted;
    remember();
    dormant.load();
  });

  // --- Ruptures ------------------------------------------------------------------
  const outOfStock = reportCard({
    id: "rapport-ruptures",
    title: "Ruptures les plus longues",
    testid: "report-out",
    path: "/api/stock/reports/out-of-stock/",
    query: () => ({ limit: 20 }),
    file: "ruptures.csv",
    show(report) {
      return {
        summary: `${plural(report.count, "pièce active", "pièces actives")} à zéro.`,
        table: dataTable({
          caption: "Pièces en rupture, la plus ancienne d’abord",
          testid: "table-out",
          rows: report.rows,
          columns: [
            { label: "Pièce", wide: true, cell: (row) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${row.piece_id}`, class: "ref", text: row.reference }), h("span", { class: "muted small", text: row.name })) },
            { label: "Depuis", cell: (row) => (row.ever_stocked ? formatDateTime(row.since) : "jamais en stock") },
            { label: "Jours", numeric: true, cell: (row) => (row.ever_stocked ? formatNumber(row.days) : "") },
            { label: "Minimum", numeric: true, cell: (row) => formatNumber(row.min_stock) },
          ],
        }),
        empty: "Aucune pièce active n’est à zéro.",
      };
    },
  });

  container.append(h("div", { class: "grid-2" }, consumption.card, movers.card), h("div", { class: "grid-2" }, value.card, dormant.card), outOfStock.card);

  function remember() {
    updateQuery({ ...periodQuery(), by: state.by === "month" ? "" : state.by, group: state.group === "category" ? "" : state.group, at: state.at, days: state.days === 90 ? "" : state.days });
  }

  periodForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.date_from = dateOrEmpty(from.control.value);
    state.date_to = dateOrEmpty(to.control.value);
    state.by = by.control.value;
    state.group = group.control.value;
    remember();
    consumption.load();
    movers.load();
  });

  /** Une carte : titre, réglages, export CSV, puis résumé, diagramme et tableau. */
  function reportCard({ id, title: heading, testid, path, query: reportQuery, file, controls = [], show }) {
    const body = h("div", { class: "report__body", "aria-live": "polite" }, loading());
    const csv = button("CSV", { class: "btn btn--small", dataset: { testid: `${testid}-csv` }, "aria-label": `Exporter « ${heading} » en CSV` }, "download");
    const card = h(
      "section",
      { class: "card report", "aria-labelledby": id, dataset: { testid } },
      h("div", { class: "card__header" }, h("h2", { id, text: heading }), csv),
      controls.length ? h("div", { class: "card__body report__controls" }, ...controls) : null,
      h("div", { class: "card__body" }, body),
    );
    async function load() {
      replace(body, loading());
      try {
        const report = await api.get(path, { query: reportQuery(), signal });
        const shown = show(report);
        const parts = [shown.summary ? h("p", { class: "report__summary", dataset: { testid: `${testid}-summary` }, text: shown.summary }) : null];
        if (report.rows.length === 0) parts.push(emptyState(shown.empty, { iconName: "inbox", testid: `${testid}-empty` }));
        else parts.push(shown.chart || null, shown.table);
        replace(body, ...parts);
      } catch (error) {
        if (error?.name === "AbortError") return;
        replace(body, loadError(error instanceof ApiError ? frenchMessage(error) : "Le rapport n’a pas pu être calculé.", load));
      }
    }
    csv.addEventListener("click", async () => {
      setBusy(csv, true, "Export…");
      try {
        const { blob, name: fileName } = await download(path, { ...reportQuery(), limit: "", format: "csv" }, file);
        saveBlob(blob, fileName);
        toast("Export téléchargé.");
      } catch (error) {
        if (error?.name !== "AbortError") toast(error instanceof ApiError ? error.french() : "L’export a échoué.", "error");
      } finally {
        setBusy(csv, false);
      }
    });
    load();
    return { card, load };
  }
}
