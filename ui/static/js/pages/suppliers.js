// Fournisseurs : la liste, l'ajout et la modification (gestionnaire). Un
// fournisseur que des offres ou des commandes désignent s'archive.

import { api } from "../api.js";
import { h, replace, field, input, messageArea, setBusy, formatNumber, loading, emptyState, button } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, pageFromQuery, formDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError, fieldMessages } from "../errors.js";
import { purchasingTabs } from "../purchasing.js";

export const name = "fournisseurs";
export const title = () => "Fournisseurs";

const PAGE_SIZE = 50;

/** Les champs d'un fournisseur : [nom, libellé, longueur, type]. */
const FIELDS = [
  ["name", "Nom", 200, "text"],
  ["contact", "Contact", 200, "text"],
  ["email", "E-mail", 200, "email"],
  ["phone", "Téléphone", 50, "tel"],
  ["notes", "Notes", 2000, "text"],
];

function supplierFields(form, supplier = {}) {
  const fields = {};
  for (const [key, label, maxlength, type] of FIELDS) {
    fields[key] = field({ label, name: key, required: key === "name", control: input({ type, maxlength, value: supplier[key] ?? "", autocomplete: "off", dataset: { testid: `supplier-${key}` } }) });
    form.append(fields[key].wrapper);
  }
  return fields;
}

function values(fields) {
  return Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.control.value.trim()]));
}

function showErrors(error, fields, message) {
  message.show(error instanceof ApiError ? error.french() : "Enregistrement impossible.", "error");
  const messages = error instanceof ApiError ? fieldMessages(error) : {};
  for (const [key, f] of Object.entries(fields)) f.setError(messages[key] || "");
}

export async function render({ container, query, signal, updateQuery }) {
  const state = { page: pageFromQuery(query) };
  container.append(pageHeader("Achats", { subtitle: "Les fournisseurs de l’atelier ; leurs offres se saisissent sur la fiche de chaque pièce." }), purchasingTabs("#/fournisseurs"));
  const layout = h("div", { class: may.managePurchasing() ? "split" : "" });
  container.append(layout);
  const results = h("div", { class: "results", dataset: { testid: "suppliers" } }, loading("Chargement des fournisseurs…"));

  const { load, goToPage } = pagedList({
    results,
    state,
    onStart: () => updateQuery({ page: state.page > 1 ? state.page : "" }),
    fetchPage: () => api.get("/api/purchasing/suppliers/", { query: { page: state.page, page_size: PAGE_SIZE }, signal }),
    show: (page) => {
      if (page.results.length === 0) {
        replace(results, emptyState("Aucun fournisseur pour l’instant.", { iconName: "users", testid: "suppliers-empty" }));
        return;
      }
      const columns = [
        { label: "Nom", wide: true, cell: (s) => h("strong", { text: s.name }) },
        { label: "Contact", cell: (s) => [s.contact, s.email, s.phone].filter(Boolean).join(" · ") },
        { label: "Offres", numeric: true, cell: (s) => formatNumber(s.offers) },
        { label: "Commandes ouvertes", numeric: true, cell: (s) => (s.open_orders ? h("a", { href: `#/commandes?status=draft,sent,partial`, text: formatNumber(s.open_orders) }) : "0") },
      ];
      if (may.managePurchasing()) {
        columns.push({
          label: "Actions",
          cell: (s) =>
            h(
              "span",
              { class: "row-actions" },
              button("Modifier", { class: "btn btn--small", dataset: { testid: "supplier-edit" }, on: { click: () => edit(s) } }, "edit"),
              button("Archiver", { class: "btn btn--small btn--danger-ghost", dataset: { testid: "supplier-archive" }, on: { click: () => archive(s) } }, "archive"),
            ),
        });
      }
      replace(
        results,
        dataTable({ caption: "Fournisseurs", testid: "suppliers-table", rows: page.results, rowAttrs: (s) => ({ dataset: { testid: "supplier-row", name: s.name } }), columns }),
        pagination({ page: state.page, pageSize: PAGE_SIZE, count: page.count, noun: ["fournisseur", "fournisseurs"], onChange: goToPage }),
      );
    },
  });

  if (may.managePurchasing()) layout.append(creationForm({ signal, onCreated: load }));
  layout.append(
    h(
      "section",
      { class: "card card--flush split__main", "aria-labelledby": "fournisseurs-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "fournisseurs-titre", text: "Fournisseurs actifs" })),
      results,
    ),
  );

  function edit(supplier) {
    formDialog({
      title: `Modifier ${supplier.name}`,
      build: (form) => supplierFields(form, supplier),
      submit: async (form, message, fields) => {
        try {
          await api.patch(`/api/purchasing/suppliers/${supplier.id}/`, values(fields), { signal });
          toast("Fournisseur modifié.");
          await load();
          return true;
        } catch (error) {
          showErrors(error, fields, message);
          return false;
        }
      },
    });
  }

  async function archive(supplier) {
    try {
      await api.patch(`/api/purchasing/suppliers/${supplier.id}/`, { archived: true }, { signal });
      toast(`${supplier.name} archivé : il ne reçoit plus d’offre ni de commande.`);
      await load();
    } catch (error) {
      toast(error instanceof ApiError ? error.french() : "Archivage impossible.", "error");
    }
  }

  await load();
}

function creationForm({ signal, onCreated }) {
  const form = h("form", { class: "form", novalidate: true });
  const fields = supplierFields(form);
  const message = messageArea("supplier-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "supplier-create" } }, h("span", { text: "Ajouter le fournisseur" }));
  form.append(message, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    if (!fields.name.control.value.trim()) {
      fields.name.setError("Le nom est requis.");
      fields.name.control.focus();
      return;
    }
    setBusy(submit, true, "Ajout…");
    try {
      await api.post("/api/purchasing/suppliers/", values(fields), { signal });
      toast("Fournisseur ajouté.");
      form.reset();
      for (const f of Object.values(fields)) f.setError("");
      await onCreated();
    } catch (error) {
      if (error?.name === "AbortError") return;
      showErrors(error, fields, message);
    } finally {
      setBusy(submit, false);
    }
  });
  return h(
    "section",
    { class: "card split__aside", "aria-labelledby": "nouveau-fournisseur-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "nouveau-fournisseur-titre", text: "Nouveau fournisseur" })),
    h("div", { class: "card__body" }, form),
  );
}
