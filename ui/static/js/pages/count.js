// Un inventaire : les lignes à compter, les quantités comptées (saisies ou
// importées d'une feuille CSV), les écarts, puis la validation
// (gestionnaire) qui ajuste chaque écart une seule fois.

import { api, request, download } from "../api.js";
import { h, replace, field, input, button, messageArea, setBusy, formatDateTime, formatNumber, formatSigned, loading, loadError, saveBlob } from "../dom.js";
import { pageHeader, dataTable, confirmDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError } from "../errors.js";
import { COUNT_STATUSES } from "../labels.js";
import { refreshBellSoon } from "../bell.js";
import { lineScanner } from "../scan.js";

export const name = "inventaire";
export const title = (params) => `Inventaire ${params[0]}`;

export async function render({ container, params, signal, navigate }) {
  const id = Number(params[0]);
  const url = `/api/stock/counts/${id}/`;
  container.append(loading("Chargement de l’inventaire…"));
  let count;

  async function load() {
    try {
      count = await api.get(url, { signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(
        container,
        pageHeader(`Inventaire ${id}`, { back: { href: "#/inventaires", label: "Retour aux inventaires" } }),
        loadError(error instanceof ApiError ? error.french({ notFound: "Cet inventaire n’existe pas." }) : "Chargement impossible.", () => navigate(`/inventaires/${id}`)),
      );
      return;
    }
    show();
  }

  function show() {
    const open = count.status === "open";
    const editable = open && may.count();
    const message = messageArea("count-message");
    const inputs = new Map();
    const actions = [button("Exporter la feuille (CSV)", { class: "btn", dataset: { testid: "count-export" }, on: { click: exportSheet } }, "download")];
    if (editable) actions.push(importButton(message));
    if (open && may.validateCount()) {
      actions.push(button("Annuler l’inventaire", { class: "btn btn--danger-ghost", dataset: { testid: "count-cancel" }, on: { click: cancel } }));
    }
    const summary = h(
      "p",
      { class: "muted", dataset: { testid: "count-summary" } },
      `${COUNT_STATUSES[count.status] || count.status} · ${formatNumber(count.lines_counted)} ligne(s) comptée(s) sur ${formatNumber(count.lines_total)} · ${formatNumber(count.differences)} écart(s) · ouvert le ${formatDateTime(count.opened_at)} par ${count.opened_by}`,
      count.closed_at ? ` · clos le ${formatDateTime(count.closed_at)} par ${count.closed_by}` : "",
    );
    const columns = [
      { label: "Pièce", wide: true, cell: (l) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${l.piece_id}`, class: "ref", text: l.reference }), h("span", { class: "muted small", text: l.name })) },
      { label: "Attendu", numeric: true, cell: (l) => formatNumber(l.expected) },
      {
        label: "Compté",
        numeric: true,
        cell: (l) => {
          if (!editable) return l.counted === null ? h("span", { class: "muted", text: "—" }) : formatNumber(l.counted);
          const control = input({ type: "number", min: 0, step: 1, inputmode: "numeric", class: "input count-input", value: l.counted ?? "", "aria-label": `Quantité comptée de ${l.reference}`, dataset: { testid: "count-input" } });
          inputs.set(l.piece_id, { control, before: l.counted === null ? "" : String(l.counted) });
          return control;
        },
      },
      { label: "Écart", numeric: true, cell: (l) => (l.difference === null ? "" : h("span", { class: ["delta", l.difference > 0 ? "delta--up" : l.difference < 0 ? "delta--down" : ""], dataset: { testid: "count-difference" }, text: formatSigned(l.difference) })) },
      open
        ? { label: "À ajuster", numeric: true, cell: (l) => (l.adjustment === null ? "" : formatSigned(l.adjustment)) }
        : { label: "Mouvement", cell: (l) => (l.movement_id ? h("a", { href: `#/historique?piece_id=${l.piece_id}`, text: `n° ${l.movement_id}` }) : "") },
    ];
    const table = count.lines.length
      ? dataTable({
          caption: "Lignes de l’inventaire",
          testid: "count-lines",
          rows: count.lines,
          rowAttrs: (l) => ({ dataset: { testid: "count-line", pieceId: l.piece_id, reference: l.reference } }),
          columns,
        })
      : h("div", { class: "card__body" }, h("p", { class: "muted", text: "L’emplacement ne détenait rien à l’ouverture : comptez ce que vous y trouvez ci-dessous." }));
    const save = editable ? h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "count-save" } }, h("span", { text: "Enregistrer les quantités" })) : null;
    const validate = open && may.validateCount() ? button("Valider l’inventaire", { class: "btn btn--primary", dataset: { testid: "count-validate" }, on: { click: () => validateCount(message) } }) : null;
    const form = h(
      "form",
      { novalidate: true, on: { submit: (event) => saveCounts(event, inputs, message, save) } },
      editable ? scanField(inputs) : null,
      table,
      h("div", { class: "card__body count-actions" }, save, validate, message),
    );
    replace(
      container,
      pageHeader(`Inventaire ${count.id} — ${count.location_code}`, {
        subtitle: count.location_name,
        actions,
        back: { href: "#/inventaires", label: "Retour aux inventaires" },
      }),
      summary,
      h("section", { class: "card card--flush", "aria-label": "Lignes à compter", dataset: { testid: "count-detail", status: count.status } }, form),
      editable ? extraLine(message) : null,
    );
  }

  async function saveCounts(event, inputs, message, submit) {
    event.preventDefault();
    message.clear();
    const lines = [];
    for (const [pieceId, { control, before }] of inputs) {
      const raw = control.value.trim();
      if (raw === before || raw === "") continue;
      if (!/^\d+$/.test(raw)) {
        message.show("Une quantité comptée est un entier positif ou nul.", "error");
        control.focus();
        return;
      }
      lines.push({ piece_id: pieceId, counted: Number(raw) });
    }
    if (lines.length === 0) {
      message.show("Aucune quantité nouvelle à enregistrer.", "info");
      return;
    }
    await record(lines, message, submit);
  }

  async function record(lines, message, busy) {
    if (busy) setBusy(busy, true, "Enregistrement…");
    try {
      const { data } = await api.put(`${url}lines/`, { lines }, { signal });
      toast(`${data.recorded} quantité(s) enregistrée(s).`);
      await load();
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
    } finally {
      if (busy?.isConnected) setBusy(busy, false);
    }
  }

  /** Une pièce que l'inventaire n'attendait pas, par sa référence. */
  function extraLine(message) {
    const reference = field({ label: "Référence", name: "reference", control: input({ autocomplete: "off", dataset: { testid: "count-extra-reference" } }) });
    const counted = field({ label: "Quantité comptée", name: "counted", control: input({ type: "number", min: 0, step: 1, inputmode: "numeric", dataset: { testid: "count-extra-quantity" } }) });
    const submit = h("button", { type: "submit", class: "btn" }, h("span", { text: "Ajouter la ligne" }));
    const form = h("form", { class: "form-grid form-grid--3", novalidate: true }, reference.wrapper, counted.wrapper, h("div", { class: "field" }, h("span", { class: "field__label", "aria-hidden": "true", text: "\u00a0" }), submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      reference.setError("");
      counted.setError("");
      const wanted = reference.control.value.trim();
      const quantity = counted.control.value.trim();
      if (!wanted) return reference.setError("Saisissez une référence.");
      if (!/^\d+$/.test(quantity)) return counted.setError("Un entier positif ou nul.");
      try {
        const found = await api.get("/api/pieces/", { query: { search: wanted, page_size: 20 }, signal });
        const piece = found.results.find((p) => p.reference.toLowerCase() === wanted.toLowerCase());
        if (!piece) return reference.setError(`Aucune pièce de référence « ${wanted} ».`);
        await record([{ piece_id: piece.id, counted: Number(quantity) }], message, submit);
      } catch (error) {
        if (error?.name === "AbortError") return;
        if (!(error instanceof ApiError)) throw error;
        message.show(error.french(), "error");
      }
    });
    return h(
      "section",
      { class: "card", "aria-labelledby": "autre-piece-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "autre-piece-titre", text: "Compter une autre pièce" })),
      h("div", { class: "card__body" }, form),
    );
  }

  /**
   * Compter en lisant : chaque lecture « RÉFÉRENCE [QUANTITÉ] » (ou un
   * code-barres) ajoute à la quantité comptée de sa ligne ; rien n'est
   * envoyé avant « Enregistrer les quantités ».
   */
  function scanField(inputs) {
    const scan = lineScanner({
      lines: () => count.lines,
      hint: "Chaque lecture ajoute 1 (ou la quantité tapée après la référence) à la ligne.",
      testid: "count-scan",
      outside: (code) => `${code} n’est pas dans cet inventaire : ajoutez-la ci-dessous.`,
      onRead: (line, quantity) => {
        const target = inputs.get(line.piece_id);
        if (!target) return false;
        target.control.value = String((Number(target.control.value) || 0) + quantity);
        return true;
      },
      signal,
    });
    return h("div", { class: "card__body" }, scan.wrapper);
  }

  function importButton(message) {
    const file = h("input", { type: "file", accept: ".csv,text/csv", class: "sr-only", id: `import-inventaire-${id}`, dataset: { testid: "count-import-file" } });
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (!chosen) return;
      try {
        const { data } = await request("POST", `${url}import/`, { body: await chosen.text(), headers: { "Content-Type": "text/csv" }, signal });
        toast(`${data.recorded} quantité(s) importée(s) de ${chosen.name}.`);
        await load();
      } catch (error) {
        if (error?.name === "AbortError") return;
        if (!(error instanceof ApiError)) throw error;
        message.show(error.french(), "error");
      }
    });
    return h("span", {}, file, h("label", { for: file.id, class: "btn", dataset: { testid: "count-import" } }, "Importer une feuille CSV"));
  }

  async function exportSheet() {
    try {
      const { blob, name } = await download(`${url}export.csv`, {}, `inventaire-${id}.csv`);
      saveBlob(blob, name);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  async function validateCount(message) {
    const ok = await confirmDialog({
      title: `Valider l’inventaire ${count.id} ?`,
      message: `${formatNumber(count.differences)} écart(s) : chacun devient un ajustement (motif « Inventaire »), appliqué au niveau actuel de ${count.location_code}. Les lignes non comptées ne changent rien.`,
      confirmLabel: "Valider",
    });
    if (!ok) return;
    try {
      const { data } = await api.post(`${url}validate/`, undefined, { signal });
      count = data;
      toast(`Inventaire ${count.id} validé.`);
      refreshBellSoon();
      show();
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
    }
  }

  async function cancel() {
    const ok = await confirmDialog({
      title: `Annuler l’inventaire ${count.id} ?`,
      message: "Rien ne sera ajusté ; l’emplacement pourra être compté de nouveau.",
      confirmLabel: "Annuler l’inventaire",
      cancelLabel: "Garder",
      danger: true,
    });
    if (!ok) return;
    try {
      const { data } = await api.post(`${url}cancel/`, undefined, { signal });
      count = data;
      toast(`Inventaire ${count.id} annulé.`);
      show();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  await load();
}
