// Emplacements : l'arbre (site → zone → bac), ce que chacun détient, et
// pour les gestionnaires la création, la modification, l'archivage et la
// suppression.

import { api } from "../api.js";
import { h, replace, field, input, select, setOptions, button, messageArea, setBusy, formatNumber, loading, emptyState, loadError } from "../dom.js";
import { pageHeader, dataTable, confirmDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError, fieldMessages } from "../errors.js";
import { DEFAULT_LOCATION, locationOptions } from "../locations.js";

export const name = "emplacements";
export const title = () => "Emplacements";

export async function render({ container, query, signal, updateQuery }) {
  let showArchived = query.get("archives") === "1";
  let locations = [];
  const results = h("div", { class: "results", dataset: { testid: "locations" } }, loading("Chargement des emplacements…"));
  const archivedToggle = h("input", { type: "checkbox", id: "emplacements-archives", checked: showArchived, dataset: { testid: "locations-archived" } });
  archivedToggle.addEventListener("change", () => {
    showArchived = archivedToggle.checked;
    updateQuery({ archives: showArchived ? "1" : "" });
    load();
  });

  const labelsLink = h("a", { class: "btn", href: "#/etiquettes", dataset: { testid: "locations-labels" } }, h("span", { text: "Étiquettes" }));
  container.append(
    pageHeader("Emplacements", {
      subtitle: may.manageLocations() ? "Où le stock est rangé : sites, zones et bacs." : "Où le stock est rangé.",
      actions: [labelsLink],
    }),
  );
  const layout = h("div", { class: may.manageLocations() ? "split" : "" });
  container.append(layout);

  const editor = may.manageLocations() ? locationEditor({ signal, onSaved: () => load() }) : null;
  if (editor) layout.append(editor.card);
  layout.append(
    h(
      "section",
      { class: "card card--flush split__main", "aria-labelledby": "arbre-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "arbre-titre", text: "Arbre des emplacements" })),
      h("div", { class: "card__body" }, h("p", { class: "checkbox-line" }, archivedToggle, h("label", { for: archivedToggle.id, text: " Afficher les emplacements archivés" }))),
      results,
    ),
  );

  async function load() {
    results.setAttribute("aria-busy", "true");
    try {
      locations = await api.get("/api/stock/locations/", { query: { archived: showArchived ? "true" : "" }, signal });
      editor?.setLocations(locations.filter((l) => !l.archived));
      labelsLink.href = `#/etiquettes?emplacements=${locations.filter((l) => !l.archived).map((l) => l.id).join(",")}`;
      show();
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(results, h("div", { class: "card__body" }, loadError(error instanceof ApiError ? error.french() : "Emplacements indisponibles.", load)));
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  function show() {
    if (locations.length === 0) {
      replace(results, emptyState("Aucun emplacement.", { iconName: "pin", testid: "locations-empty" }));
      return;
    }
    const columns = [
      {
        label: "Emplacement",
        wide: true,
        cell: (l) => {
          const name = h(
            "span",
            { class: ["cell-stack", "tree-name", l.depth > 0 && "tree-name--child"] },
            h("span", { class: "cell-main" }, h("span", { class: "ref", text: l.code }), l.archived ? h("span", { class: "tag", text: "Archivé" }) : null),
            h("span", { class: "muted small", text: l.path }),
          );
          // Par le CSSOM : la CSP refuse les attributs style.
          name.style.setProperty("--depth", String(l.depth));
          return name;
        },
      },
      { label: "Pièces", numeric: true, cell: (l) => formatNumber(l.pieces) },
      { label: "Unités", numeric: true, cell: (l) => formatNumber(l.quantity) },
      {
        label: "Actions",
        className: "actions-cell",
        cell: (l) =>
          h(
            "span",
            { class: "count-actions" },
            h("a", { class: "btn btn--small", href: `#/stock?location=${l.id}`, "aria-label": `Stock de ${l.code}`, text: "Stock" }),
            editor && !l.archived ? button("Modifier", { class: "btn btn--small", "aria-label": `Modifier ${l.code}`, dataset: { testid: "edit-location" }, on: { click: () => editor.edit(l) } }) : null,
            editor && l.id !== DEFAULT_LOCATION && !l.archived
              ? button("Archiver", { class: "btn btn--small btn--danger-ghost", "aria-label": `Archiver ${l.code}`, on: { click: () => archive(l) } })
              : null,
            editor && l.id !== DEFAULT_LOCATION
              ? button("Supprimer", { class: "btn btn--small btn--danger-ghost", "aria-label": `Supprimer ${l.code}`, on: { click: () => remove(l) } })
              : null,
          ),
      },
    ];
    replace(
      results,
      dataTable({
        caption: "Emplacements",
        testid: "locations-table",
        rows: locations,
        rowAttrs: (l) => ({ dataset: { testid: "location-row", locationId: l.id, code: l.code, depth: l.depth } }),
        columns,
      }),
    );
  }

  async function archive(location) {
    const ok = await confirmDialog({
      title: `Archiver ${location.code} ?`,
      message: "Un emplacement archivé ne reçoit plus de mouvement ; il doit être vide. Son historique reste.",
      confirmLabel: "Archiver",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.patch(`/api/stock/locations/${location.id}/`, { archived: true }, { signal });
      toast(`Emplacement ${location.code} archivé.`);
      load();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  async function remove(location) {
    const ok = await confirmDialog({
      title: `Supprimer ${location.code} ?`,
      message: "Seul un emplacement jamais utilisé (aucun stock, mouvement, inventaire ni sous-emplacement) se supprime ; sinon, archivez-le.",
      confirmLabel: "Supprimer",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.delete(`/api/stock/locations/${location.id}/`, { signal });
      toast(`Emplacement ${location.code} supprimé.`);
      load();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  await load();
}

/** Le formulaire de création, qui sert aussi à modifier un emplacement. */
function locationEditor({ signal, onSaved }) {
  let editing = null;
  const code = field({ label: "Code", name: "code", required: true, hint: "Unique, sans espace : A-01, ETAGERE-B…", control: input({ maxlength: 40, autocomplete: "off", dataset: { testid: "location-code" } }) });
  const label = field({ label: "Nom", name: "name", required: true, control: input({ maxlength: 200, autocomplete: "off", dataset: { testid: "location-name" } }) });
  const parent = field({ label: "Dans", name: "parent_id", control: select([["", "— À la racine —"]], { dataset: { testid: "location-parent" } }) });
  const message = messageArea("location-message");
  const title = h("h2", { id: "emplacement-titre", text: "Nouvel emplacement" });
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "location-submit" } }, h("span", { text: "Créer l’emplacement" }));
  const cancel = button("Annuler la modification", { class: "btn btn--block", hidden: true, on: { click: () => reset() } });
  const form = h("form", { class: "form", novalidate: true, dataset: { testid: "location-form" } }, code.wrapper, label.wrapper, parent.wrapper, message, submit, cancel);
  const card = h("section", { class: "card split__aside", "aria-labelledby": title.id }, h("div", { class: "card__header" }, title), h("div", { class: "card__body" }, form));
  let choices = [];

  function reset() {
    editing = null;
    form.reset();
    title.textContent = "Nouvel emplacement";
    submit.querySelector("span").textContent = "Créer l’emplacement";
    cancel.hidden = true;
    setOptions(parent.control, locationOptions(choices, ["", "— À la racine —"]), "");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of [code, label, parent]) f.setError("");
    message.clear();
    const body = { code: code.control.value.trim(), name: label.control.value.trim(), parent_id: parent.control.value ? Number(parent.control.value) : null };
    const errors = {};
    if (!body.code || /\s/.test(body.code)) errors.code = "Un code sans espace est requis.";
    if (!body.name) errors.name = "Un nom est requis.";
    if (Object.keys(errors).length) {
      showErrors(errors);
      return;
    }
    setBusy(submit, true, "Enregistrement…");
    try {
      const { data } = editing ? await api.patch(`/api/stock/locations/${editing.id}/`, body, { signal }) : await api.post("/api/stock/locations/", body, { signal });
      toast(editing ? `Emplacement ${data.code} modifié.` : `Emplacement ${data.code} créé.`);
      reset();
      onSaved(data);
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
      showErrors(fieldMessages(error));
    } finally {
      setBusy(submit, false);
    }
  });

  function showErrors(errors) {
    const map = { code, name: label, parent_id: parent };
    let first = null;
    for (const [key, text] of Object.entries(errors)) {
      map[key]?.setError(text);
      first ??= map[key]?.control;
    }
    first?.focus();
  }

  return {
    card,
    setLocations(active) {
      choices = active;
      const kept = parent.control.value;
      setOptions(parent.control, locationOptions(choices, ["", "— À la racine —"]), kept);
    },
    edit(location) {
      editing = location;
      title.textContent = `Modifier ${location.code}`;
      submit.querySelector("span").textContent = "Enregistrer";
      cancel.hidden = false;
      code.control.value = location.code;
      label.control.value = location.name;
      // Ni lui-même ni ses descendants : le service le refuserait.
      const below = new Set([location.id]);
      for (const l of choices) if (below.has(l.parent_id)) below.add(l.id);
      setOptions(parent.control, locationOptions(choices.filter((l) => !below.has(l.id)), ["", "— À la racine —"]), location.parent_id ?? "");
      code.control.focus();
    },
  };
}
