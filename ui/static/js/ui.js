// Composants d'interface partagés : en-tête de page, tableaux adaptatifs,
// pagination, listes paginées et leurs filtres, boîtes de dialogue, annonces.

import { h, icon, button, replace, formatNumber, plural, messageArea, loadError, debounce } from "./dom.js";
import { ApiError } from "./errors.js";

/** En-tête de page : titre (reçoit le focus à la navigation) et actions. */
export function pageHeader(title, { subtitle = null, actions = [], back = null } = {}) {
  return h(
    "div",
    { class: "page-header" },
    h(
      "div",
      { class: "page-header__titles" },
      back ? h("a", { class: "back-link", href: back.href }, icon("chevronLeft"), h("span", { text: back.label })) : null,
      h("h1", { class: "page-title", tabindex: "-1", text: title }),
      subtitle ? h("p", { class: "page-subtitle" }, subtitle) : null,
    ),
    actions.length ? h("div", { class: "page-header__actions" }, actions) : null,
  );
}

/**
 * Tableau qui devient une liste de cartes sur petit écran (chaque cellule
 * porte son intitulé dans data-label).
 * columns : [{ label, cell: (row) => contenu, className, numeric, wide }]
 * (`wide` : la cellule occupe toute la largeur de la carte sur petit écran)
 */
export function dataTable({ columns, rows, caption, rowAttrs = () => ({}), testid }) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table table--responsive", dataset: testid ? { testid } : undefined },
      caption ? h("caption", { class: "sr-only", text: caption }) : null,
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", class: [column.className, column.numeric && "num"] }, column.label)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            rowAttrs(row),
            columns.map((column) => {
              const content = column.cell(row);
              return h(
                "td",
                { class: [column.className, column.numeric && "num", column.wide && "cell--wide"], dataset: { label: column.label } },
                content === null || content === undefined || content === "" ? h("span", { class: "muted", text: "—" }) : content,
              );
            }),
          ),
        ),
      ),
    ),
  );
}

/** Des onglets entre pages sœurs : `[{ href, label, testid }]`, `current` marqué. */
export function tabs(label, links, current) {
  return h(
    "nav",
    { class: "tabs", "aria-label": label },
    links.map((tab) => h("a", { class: "tabs__link", href: tab.href, dataset: { testid: tab.testid }, "aria-current": tab.href === current ? "page" : null, text: tab.label })),
  );
}

/** Les onglets de l'historique et des rapports. */
export function historyTabs(current) {
  return tabs("Historique et rapports", [
    { href: "#/historique", label: "Mouvements", testid: "tab-history" },
    { href: "#/rapports", label: "Rapports", testid: "tab-reports" },
  ], current);
}

/** Pagination : « Précédente · Page 2 sur 5 · Suivante ». */
export function pagination({ page, pageSize, count, onChange, noun = ["résultat", "résultats"] }) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  const previous = button("Précédente", { class: "btn btn--small", disabled: page <= 1, on: { click: () => onChange(page - 1) } }, "chevronLeft");
  const next = h(
    "button",
    { type: "button", class: "btn btn--small", disabled: page >= pages, on: { click: () => onChange(page + 1) } },
    h("span", { text: "Suivante" }),
    icon("chevronRight"),
  );
  return h(
    "nav",
    { class: "pagination", "aria-label": "Pagination" },
    h("p", { class: "pagination__info" }, `${plural(count, noun[0], noun[1])} · page ${formatNumber(page)} sur ${formatNumber(pages)}`),
    pages > 1 ? h("div", { class: "pagination__buttons" }, previous, next) : null,
  );
}

// --- Listes paginées --------------------------------------------------------------

/** Le numéro de page de l'adresse (`?page=3`) ; 1 s'il manque ou ne vaut rien. */
export function pageFromQuery(query) {
  return Math.max(1, Number.parseInt(query.get("page"), 10) || 1);
}

/**
 * La valeur du paramètre `key` de l'adresse si elle fait partie des `choices`
 * ([[valeur, libellé]]), sinon `fallback` : une adresse retouchée à la main ne
 * met pas dans l'état une valeur qu'aucun filtre ne propose.
 */
export function choiceFromQuery(query, key, choices, fallback) {
  const value = query.get(key);
  return choices.some(([choice]) => choice === value) ? value : fallback;
}

/**
 * Le chargement d'une liste paginée dans `results`.
 * - Seule la dernière requête lancée s'affiche : la réponse tardive d'un
 *   filtre précédent ne remplace pas la liste.
 * - `aria-busy` couvre l'attente.
 * - Un 404 au-delà de la page 1 (la page a disparu après un filtre, un
 *   archivage...) ramène à la page 1 au lieu d'afficher une erreur.
 * - Toute autre panne laisse un message et un bouton « Réessayer ».
 *
 * `onStart()` passe avant chaque requête (adresse, indicateur) ; `fetchPage()`
 * rend la page de l'API ; `show(page)` l'affiche ; `errorContext` est passé à
 * `ApiError.french`. Rend `load()` et `goToPage(n)`, pour la pagination.
 */
export function pagedList({ results, state, onStart = () => {}, fetchPage, show, errorContext }) {
  let requestId = 0;
  async function load() {
    const mine = ++requestId;
    onStart();
    results.setAttribute("aria-busy", "true");
    try {
      const page = await fetchPage();
      if (mine !== requestId) return;
      show(page);
    } catch (error) {
      if (error?.name === "AbortError" || mine !== requestId) return;
      if (error instanceof ApiError && error.status === 404 && state.page > 1) {
        state.page = 1;
        load();
        return;
      }
      replace(results, h("div", { class: "card__body" }, loadError(error instanceof ApiError ? error.french(errorContext) : "Chargement impossible.", load)));
    } finally {
      if (mine === requestId) results.removeAttribute("aria-busy");
    }
  }
  function goToPage(n) {
    state.page = n;
    return load();
  }
  return { load, goToPage };
}

/**
 * Relie les filtres d'une liste à son état : le champ `search` (300 ms après
 * la dernière frappe, pour ne pas lancer une requête par lettre) et chaque
 * select de `selects` ({clé de l'état: select}) y recopient leur valeur, puis
 * la liste repart de la page 1 (l'ancienne page peut ne plus exister).
 */
export function bindFilters({ state, reload, search = null, selects = {} }) {
  const reloadFromFirst = () => {
    state.page = 1;
    reload();
  };
  search?.addEventListener(
    "input",
    debounce(() => {
      state.search = search.value.trim();
      reloadFromFirst();
    }, 300),
  );
  for (const [key, control] of Object.entries(selects)) {
    control.addEventListener("change", () => {
      state[key] = control.value;
      reloadFromFirst();
    });
  }
}

// --- Annonces (toasts) -----------------------------------------------------------

/** Annonce un message (région aria-live) ; disparaît après quelques secondes. */
export function toast(message, kind = "success") {
  const region = document.getElementById("annonces");
  if (!region) return;
  const item = h("div", { class: ["toast", `toast--${kind}`], dataset: { testid: "toast" } }, icon(kind === "error" ? "alert" : "check"), h("span", { text: message }));
  region.append(item);
  setTimeout(() => {
    item.classList.add("toast--leaving");
    setTimeout(() => item.remove(), 300);
  }, kind === "error" ? 8000 : 5000);
}

// --- Boîtes de dialogue ----------------------------------------------------------

function openDialog(dialog) {
  document.body.append(dialog);
  const previous = document.activeElement;
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (previous && previous.isConnected) previous.focus();
  });
  dialog.showModal();
}

/** Confirmation ; rend une promesse de booléen. */
export function confirmDialog({ title, message, confirmLabel = "Confirmer", cancelLabel = "Annuler", danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const confirmBtn = button(confirmLabel, { class: ["btn", danger ? "btn--danger" : "btn--primary"], dataset: { testid: "dialog-confirm" } });
    const cancelBtn = button(cancelLabel, { class: "btn", dataset: { testid: "dialog-cancel" } });
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { class: "dialog__title", id: titleId, text: title }),
      h("p", { class: "dialog__body", text: message }),
      h("div", { class: "dialog__actions" }, cancelBtn, confirmBtn),
    );
    confirmBtn.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    cancelBtn.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(answer));
    openDialog(dialog);
    cancelBtn.focus();
  });
}

/**
 * Dialogue avec formulaire. `build(form)` rend les champs ; `submit(form,
 * message)` est asynchrone : une exception garde le dialogue ouvert.
 */
export function formDialog({ title, description = null, build, submit, submitLabel = "Enregistrer" }) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const message = messageArea("dialog-message");
  const submitBtn = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "dialog-submit" } }, h("span", { text: submitLabel }));
  const cancelBtn = button("Annuler", { class: "btn" });
  const form = h("form", { class: "dialog__form", novalidate: true });
  const dialog = h(
    "dialog",
    { class: "dialog", "aria-labelledby": titleId },
    h("h2", { class: "dialog__title", id: titleId, text: title }),
    description ? h("p", { class: "dialog__body", text: description }) : null,
    form,
  );
  const fields = build(form);
  form.append(message, h("div", { class: "dialog__actions" }, cancelBtn, submitBtn));
  cancelBtn.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submitBtn.disabled = true;
    try {
      const ok = await submit(form, message, fields);
      if (ok !== false) dialog.close();
    } finally {
      submitBtn.disabled = false;
    }
  });
  openDialog(dialog);
  form.querySelector("input, select, textarea")?.focus();
  return dialog;
}

/** Pastille de statut de stock (texte + forme, pas seulement la couleur). */
export function statusBadge(status) {
  const labels = { ok: "OK", low: "Bas", out: "Rupture" };
  const icons = { ok: "check", low: "alert", out: "out" };
  return h("span", { class: ["badge", `badge--${status}`], dataset: { status } }, icon(icons[status] || "check"), h("span", { text: labels[status] || status }));
}

/** Pastille de type de mouvement. */
export function movementBadge(type) {
  const labels = { IN: "Entrée", OUT: "Sortie", ADJUST: "Ajustement", TRANSFER: "Transfert" };
  const icons = { IN: "in", OUT: "arrowOut", ADJUST: "adjust", TRANSFER: "transfer" };
  return h("span", { class: ["badge", `badge--mvt-${type.toLowerCase()}`], dataset: { type } }, icon(icons[type] || "box"), h("span", { text: labels[type] || type }));
}

/** Où un mouvement a eu lieu : son emplacement, ou « départ → arrivée ». */
export function movementPlace(m) {
  return h("span", { class: "ref nowrap", dataset: { testid: "movement-place" }, text: m.type === "TRANSFER" ? `${m.location_code} → ${m.to_location_code}` : m.location_code });
}
