// Créer ou modifier une pièce (gestionnaire et au-dessus).

import { api, request } from "../api.js";
import { h, field, input, messageArea, setBusy, loadError, replace } from "../dom.js";
import { pageHeader, toast } from "../ui.js";
import { ApiError, fieldMessages } from "../errors.js";
import { FIELD_LABELS } from "../labels.js";

export const name = "piece-formulaire";
export const title = (params) => (params[0] ? "Modifier la pièce" : "Nouvelle pièce");

const FIELDS = ["reference", "name", "description", "category", "unit", "price", "min_stock", "location", "barcode"];

export async function render({ container, params, query, signal, navigate, setTitle }) {
  const id = params[0] ? Number(params[0]) : null;
  let etag = null;
  let piece = null;

  if (id) {
    container.append(pageHeader("Modifier la pièce", { back: { href: `#/pieces/${id}`, label: "Retour à la fiche" } }));
    try {
      const { data, response } = await request("GET", `/api/pieces/${id}/`, { signal });
      piece = data;
      etag = response.headers.get("ETag");
    } catch (error) {
      if (error?.name === "AbortError") return;
      container.append(loadError(error instanceof ApiError ? error.french({ notFound: "Cette pièce n’existe pas (ou plus)." }) : "Chargement impossible.", () => navigate(`/pieces/${id}/modifier`)));
      return;
    }
    setTitle(`Modifier ${piece.reference}`);
    replace(container, pageHeader(`Modifier ${piece.reference}`, { subtitle: piece.name, back: { href: `#/pieces/${id}`, label: "Retour à la fiche" } }));
  } else {
    container.append(pageHeader("Nouvelle pièce", { subtitle: "Les champs marqués * sont obligatoires.", back: { href: "#/pieces", label: "Retour aux pièces" } }));
  }

  // Catégories existantes proposées à la saisie.
  const categoryList = h("datalist", { id: "categories-existantes" });
  api
    .get("/api/pieces/categories/", { signal })
    .then((list) => categoryList.replaceChildren(...list.map((c) => h("option", { value: c.category }))))
    .catch(() => {});

  const f = {
    reference: field({ label: FIELD_LABELS.reference, name: "reference", required: true, hint: "Unique, sans tenir compte des majuscules (64 caractères au plus).", control: input({ maxlength: 64, autocomplete: "off", spellcheck: "false" }) }),
    name: field({ label: FIELD_LABELS.name, name: "name", required: true, control: input({ maxlength: 200 }) }),
    description: field({ label: FIELD_LABELS.description, name: "description", control: h("textarea", { class: "input", rows: 3, maxlength: 2000 }), className: "field--wide" }),
    category: field({ label: FIELD_LABELS.category, name: "category", control: input({ maxlength: 100, list: "categories-existantes", autocomplete: "off" }) }),
    unit: field({ label: FIELD_LABELS.unit, name: "unit", hint: "pcs, m, kg, l…", control: input({ maxlength: 20, value: "pcs" }) }),
    price: field({ label: "Prix unitaire (€)", name: "price", hint: "Par exemple 12,50", control: input({ inputmode: "decimal", autocomplete: "off", value: "0,00" }) }),
    min_stock: field({ label: FIELD_LABELS.min_stock, name: "min_stock", hint: "Une alerte part quand le stock descend à ce niveau.", control: input({ type: "number", min: 0, step: 1, inputmode: "numeric", value: "0" }) }),
    location: field({ label: FIELD_LABELS.location, name: "location", hint: "Allée, étagère, bac…", control: input({ maxlength: 100 }) }),
    barcode: field({ label: FIELD_LABELS.barcode, name: "barcode", hint: "Facultatif, unique.", control: input({ maxlength: 64, autocomplete: "off", spellcheck: "false" }) }),
  };
  // Un code inconnu lu au scanner (?code=) : des chiffres d'EAN sont un
  // code-barres, le reste une référence.
  const scanned = piece ? null : query?.get("code");
  if (scanned) (/^\d{8,14}$/.test(scanned) ? f.barcode : f.reference).control.value = scanned;
  let archived = null;
  if (piece) {
    for (const key of FIELDS) {
      const value = piece[key];
      f[key].control.value = value === null || value === undefined ? "" : key === "price" ? String(value).replace(".", ",") : String(value);
    }
    archived = h("input", { type: "checkbox", id: "piece-archivee", name: "archived", checked: piece.archived });
  }

  const message = messageArea("piece-form-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "piece-submit" } }, h("span", { text: id ? "Enregistrer les modifications" : "Créer la pièce" }));
  const cancel = h("a", { class: "btn", href: id ? `#/pieces/${id}` : "#/pieces", text: "Annuler" });

  const form = h(
    "form",
    { class: "form card", novalidate: true, dataset: { testid: "piece-form" } },
    h(
      "div",
      { class: "card__body" },
      h("fieldset", { class: "fieldset" }, h("legend", { text: "Identification" }), h("div", { class: "form-grid" }, f.reference.wrapper, f.name.wrapper, f.barcode.wrapper, f.category.wrapper, f.description.wrapper)),
      h("fieldset", { class: "fieldset" }, h("legend", { text: "Stockage et prix" }), h("div", { class: "form-grid" }, f.unit.wrapper, f.price.wrapper, f.min_stock.wrapper, f.location.wrapper)),
      archived
        ? h(
            "fieldset",
            { class: "fieldset" },
            h("legend", { text: "État" }),
            h("div", { class: "check" }, archived, h("label", { for: "piece-archivee", text: "Pièce archivée (plus aucun mouvement possible)" })),
          )
        : null,
      message,
      h("div", { class: "form__actions" }, cancel, submit),
    ),
    categoryList,
  );
  container.append(form);

  function clearErrors() {
    for (const key of FIELDS) f[key].setError("");
    message.clear();
  }

  function validate(values) {
    const errors = {};
    if (!values.reference) errors.reference = "La référence est obligatoire.";
    if (!values.name) errors.name = "Le nom est obligatoire.";
    if (values.price !== "" && !/^\d+([.,]\d{1,2})?$/.test(values.price)) errors.price = "Un montant positif, deux décimales au plus (ex. 12,50).";
    if (values.min_stock === "" || !/^\d+$/.test(values.min_stock)) errors.min_stock = "Un nombre entier positif ou nul.";
    return errors;
  }

  function showErrors(errors) {
    let first = null;
    for (const [key, text] of Object.entries(errors)) {
      if (f[key]) {
        f[key].setError(text);
        first ??= f[key].control;
      }
    }
    const unknown = Object.keys(errors).filter((key) => !f[key]);
    if (unknown.length) message.show(unknown.map((key) => `${FIELD_LABELS[key] || key} : ${errors[key]}`).join(" "), "error");
    first?.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const values = Object.fromEntries(FIELDS.map((key) => [key, f[key].control.value.trim()]));
    const errors = validate(values);
    if (Object.keys(errors).length) {
      message.show("Corrigez les champs signalés.", "error");
      showErrors(errors);
      return;
    }
    const body = {
      reference: values.reference,
      name: values.name,
      description: values.description,
      category: values.category,
      unit: values.unit || "pcs",
      price: (values.price || "0").replace(",", "."),
      min_stock: Number(values.min_stock),
      location: values.location,
      barcode: values.barcode || null,
    };
    if (archived) body.archived = archived.checked;
    setBusy(submit, true, "Enregistrement…");
    try {
      if (id) {
        await api.patch(`/api/pieces/${id}/`, body, { headers: etag ? { "If-Match": etag } : {} });
        toast(`Pièce ${body.reference} enregistrée.`);
        navigate(`/pieces/${id}`);
      } else {
        const { data } = await api.post("/api/pieces/", body);
        toast(`Pièce ${data.reference} créée.`);
        navigate(`/pieces/${data.id}`);
      }
    } catch (error) {
      setBusy(submit, false);
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
      showErrors(fieldMessages(error));
      if (error.status === 412 || (error.status === 409 && typeof error.body.version === "number")) {
        message.append(" ", h("a", { href: `#/pieces/${id}`, text: "Voir la version actuelle" }));
      }
    }
  });

  setTimeout(() => f.reference.control.focus(), 0);
}
