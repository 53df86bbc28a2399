// Petits outils DOM : construction d'éléments sans innerHTML (aucune donnée
// de l'API n'est jamais interprétée comme du HTML), icônes SVG, formats
// français et champs de formulaire accessibles.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Crée un élément. `attrs` accepte : `class`, `text`, `on` ({événement: fn}),
 * `dataset` ({clé: valeur}), les propriétés usuelles (`value`, `checked`,
 * `disabled`, `hidden`, `selected`...) et tout autre attribut.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) el.dataset[name] = String(data);
    } else if (["value", "checked", "disabled", "hidden", "selected", "required", "multiple", "indeterminate"].includes(key)) {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Ajoute des enfants (chaînes, nœuds, tableaux ; null/false ignorés). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Vide un élément puis y place `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

const ICONS = {
  plus: ["M12 5v14M5 12h14"],
  edit: ["M4 20h4L19 9l-4-4L4 16v4z", "M13.5 6.5l4 4"],
  archive: ["M4 7h16v3H4z", "M5 10v9h14v-9", "M10 14h4"],
  upload: ["M12 16V4M7 9l5-5 5 5", "M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"],
  download: ["M12 4v12M7 11l5 5 5-5", "M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"],
  box: ["M4 8l8-4 8 4v8l-8 4-8-4z", "M4 8l8 4 8-4M12 12v8"],
  alert: ["M12 4l9 16H3z", "M12 10v4M12 17v.5"],
  out: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M6 6l12 12"],
  check: ["M5 12l5 5 9-10"],
  in: ["M12 4v14M6 12l6 6 6-6"],
  arrowOut: ["M12 20V6M6 12l6-6 6 6"],
  adjust: ["M4 8h10M18 8h2M4 16h2M10 16h10", "M16 6v4M8 14v4"],
  transfer: ["M4 8h14M14 4l4 4-4 4", "M20 16H6M10 12l-4 4 4 4"],
  pin: ["M12 21s-6-5.5-6-11a6 6 0 0 1 12 0c0 5.5-6 11-6 11z", "M12 8v4"],
  clipboard: ["M8 4h8v3H8z", "M6 6H5v15h14V6h-1", "M9 12l2 2 4-4"],
  history: ["M4 12a8 8 0 1 0 2.3-5.7", "M4 4v4h4", "M12 8v4l3 2"],
  undo: ["M9 7L4 12l5 5", "M4 12h10a6 6 0 0 1 0 12h-2"],
  bell: ["M6 10a6 6 0 1 1 12 0c0 4 1.5 6 2.5 7h-17C4.5 16 6 14 6 10z", "M10 20a2 2 0 0 0 4 0"],
  users: ["M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M2 21v-1a6 6 0 0 1 12 0v1", "M16 3.5a4 4 0 0 1 0 7.5M22 21v-1a6 6 0 0 0-4-5.6"],
  key: ["M8 11a4 4 0 1 0 0 8 4 4 0 0 0 0-8z", "M10.8 12.2L20 3", "M16.5 6.5l2.5 2.5", "M14 9l2 2"],
  search: ["M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z", "M20 20l-4-4"],
  mail: ["M4 6h16v12H4z", "M4 7l8 6 8-6"],
  chevronLeft: ["M15 5l-7 7 7 7"],
  chevronRight: ["M9 5l7 7-7 7"],
  refresh: ["M20 12a8 8 0 1 1-2.3-5.7", "M20 4v4h-4"],
  inbox: ["M4 13l2-8h12l2 8v6H4z", "M4 13h5l1 2h4l1-2h5"],
  user: ["M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4 21v-1a8 8 0 0 1 16 0v1"],
};

/** Une icône SVG décorative (aria-hidden). */
export function icon(name, extraClass = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon ${extraClass}`.trim());
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// --- Formats ----------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });
const dateLong = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeStyle: "short" });
const integer = new Intl.NumberFormat("fr-FR");
const euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });

export function formatDateTime(iso, long = false) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return (long ? dateLong : dateTime).format(date);
}

export function formatNumber(n) {
  return n === null || n === undefined || n === "" ? "—" : integer.format(Number(n));
}

export function formatSigned(n) {
  const value = Number(n);
  if (value > 0) return `+${integer.format(value)}`;
  if (value < 0) return `−${integer.format(-value)}`;
  return "0";
}

export function formatPrice(price) {
  if (price === null || price === undefined || price === "") return "—";
  const value = Number(String(price).replace(",", "."));
  return Number.isFinite(value) ? euros.format(value) : String(price);
}

/** « 1 pièce », « 3 pièces » ; zéro au singulier, comme en français. */
export function plural(n, singular, pluralForm = `${singular}s`) {
  return `${formatNumber(n)} ${Math.abs(Number(n)) >= 2 ? pluralForm : singular}`;
}

/** Date du jour en UTC (AAAA-MM-JJ), la convention des filtres de l'API. */
export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

// --- Champs de formulaire ------------------------------------------------------

let uid = 0;
export function nextId(prefix = "champ") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * Un champ étiqueté avec sa zone d'erreur réservée (pas de saut de mise en
 * page quand une erreur apparaît). `control` est l'input/select/textarea.
 * Retourne { wrapper, control, error, setError(message) }.
 */
export function field({ label, control, hint, name, required = false, className = "" }) {
  const id = control.id || nextId(name || "champ");
  control.id = id;
  if (name) control.name = name;
  if (required) control.required = true;
  const errorId = `${id}-erreur`;
  const hintId = hint ? `${id}-aide` : null;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  const error = h("p", { class: "field__error", id: errorId, dataset: { errorFor: name || id } });
  const labelEl = h("label", { class: "field__label", for: id }, label, required ? h("span", { class: "field__required", "aria-hidden": "true", text: " *" }) : null);
  const wrapper = h(
    "div",
    { class: ["field", className] },
    labelEl,
    control,
    hint ? h("p", { class: "field__hint", id: hintId, text: hint }) : null,
    error,
  );
  const setError = (message) => {
    error.textContent = message || "";
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  return { wrapper, control, error, setError, label: labelEl };
}

export function input(attrs = {}) {
  return h("input", { type: "text", class: "input", ...attrs });
}

export function select(options, attrs = {}) {
  const el = h("select", { class: "input", ...attrs });
  setOptions(el, options, attrs.value);
  return el;
}

/** Remplace les options d'un select : [{value, label}] ou [[value, label]]. */
export function setOptions(selectEl, options, selected) {
  selectEl.replaceChildren(
    ...options.map((option) => {
      const [value, label] = Array.isArray(option) ? option : [option.value, option.label];
      return h("option", { value: String(value) }, label);
    }),
  );
  if (selected !== undefined && selected !== null) selectEl.value = String(selected);
}

export function button(label, attrs = {}, iconName = null) {
  return h("button", { type: "button", class: "btn", ...attrs }, iconName ? icon(iconName) : null, h("span", { text: label }));
}

/** Bouton en cours : désactivé, aria-busy, libellé temporaire. */
export function setBusy(btn, busy, busyLabel = "Patientez…") {
  const label = btn.querySelector("span:last-child") || btn;
  if (busy) {
    btn.dataset.label = label.textContent;
    label.textContent = busyLabel;
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
  } else {
    if (btn.dataset.label) label.textContent = btn.dataset.label;
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
  }
}

/** Zone de message de formulaire (hauteur réservée, annoncée). */
export function messageArea(testid) {
  const el = h("p", { class: "form-message", role: "status", "aria-live": "polite", dataset: testid ? { testid } : undefined });
  el.show = (text, kind = "info") => {
    el.textContent = text || "";
    el.dataset.kind = text ? kind : "";
    el.setAttribute("role", kind === "error" ? "alert" : "status");
  };
  el.clear = () => el.show("");
  return el;
}

/** Carte « chargement ». */
export function loading(text = "Chargement…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text }));
}

/** État vide : icône, phrase, et éventuellement une action. */
export function emptyState(text, { iconName = "inbox", action = null, testid = "empty" } = {}) {
  return h("div", { class: "empty", dataset: { testid } }, icon(iconName, "empty__icon"), h("p", { text }), action);
}

/** Erreur de chargement avec bouton « Réessayer ». */
export function loadError(message, retry) {
  return h(
    "div",
    { class: "notice notice--error", role: "alert" },
    h("p", { text: message }),
    retry ? button("Réessayer", { class: "btn btn--small", on: { click: retry } }, "refresh") : null,
  );
}

/** Déclenche le téléchargement d'un Blob sous `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, class: "sr-only" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Retarde `fn` jusqu'à ce que les appels cessent pendant `ms`. */
export function debounce(fn, ms = 300) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** UUID v4 ; crypto.randomUUID n'existe qu'en contexte sécurisé. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
