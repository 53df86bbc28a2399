// Les achats sur la fiche d'une pièce : ses offres fournisseurs (la
// préférée d'abord), ce qui est en commande, sa cible de
// réapprovisionnement ; le gestionnaire ajoute une offre, en choisit la
// préférée, fixe la cible.

import { api } from "./api.js";
import { h, replace, field, input, select, setOptions, button, messageArea, setBusy, formatNumber, loading, loadError } from "./dom.js";
import { dataTable, toast } from "./ui.js";
import { may } from "./session.js";
import { ApiError, fieldMessages } from "./errors.js";
import { formatCents, parseCents, loadSuppliers } from "./purchasing.js";

export function purchasingCard({ piece, signal }) {
  const body = h("div", { class: "card__body stack", dataset: { testid: "piece-purchasing" } }, loading("Chargement des offres…"));
  const url = `/api/purchasing/pieces/${piece.id}/`;

  async function load() {
    let view;
    try {
      view = await api.get(url, { signal });
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(body, loadError(error instanceof ApiError ? error.french() : "Achats indisponibles.", load));
      return;
    }
    const target = view.reorder_target ?? piece.min_stock * 2;
    replace(
      body,
      h(
        "p",
        { class: "muted small", dataset: { testid: "piece-on-order" } },
        `En commande : ${formatNumber(view.on_order)} ${piece.unit} · cible de réapprovisionnement : ${formatNumber(target)}${view.reorder_target === null ? " (deux fois le minimum)" : ""}`,
      ),
      view.offers.length
        ? dataTable({
            caption: "Offres des fournisseurs",
            testid: "offers",
            rows: view.offers,
            rowAttrs: (o) => ({ dataset: { testid: "offer", supplier: o.supplier_name, preferred: o.preferred } }),
            columns: [
              { label: "Fournisseur", wide: true, cell: (o) => h("span", { class: "cell-stack" }, h("strong", { text: o.supplier_name }), o.preferred ? h("span", { class: "tag tag--ok", text: "Préférée" }) : null) },
              { label: "Prix", numeric: true, cell: (o) => formatCents(o.unit_price_cents, o.currency) },
              { label: "Min. / lot", numeric: true, cell: (o) => `${formatNumber(o.min_order_quantity)} / ${formatNumber(o.pack_size)}` },
              { label: "Délai", numeric: true, cell: (o) => `${formatNumber(o.lead_time_days)} j` },
              ...(may.managePurchasing()
                ? [{ label: "Actions", cell: (o) => (o.preferred ? null : button("Préférer", { class: "btn btn--small", dataset: { testid: "offer-prefer" }, on: { click: () => prefer(o) } })) }]
                : []),
            ],
          })
        : h("p", { class: "muted", dataset: { testid: "offers-empty" }, text: "Aucune offre : cette pièce sera listée « sans fournisseur » à commander." }),
      may.managePurchasing() ? offerForm(view.reorder_target) : null,
    );
  }

  async function prefer(offer) {
    try {
      await api.patch(`/api/purchasing/offers/${offer.id}/`, { preferred: true }, { signal });
      await load();
    } catch (error) {
      toast(error instanceof ApiError ? error.french() : "Modification impossible.", "error");
    }
  }

  function offerForm(currentTarget) {
    const supplier = field({ label: "Fournisseur", name: "supplier_id", required: true, control: select([["", "Chargement…"]], { dataset: { testid: "offer-supplier" } }) });
    const price = field({ label: "Prix unitaire (€)", name: "unit_price_cents", required: true, control: input({ inputmode: "decimal", autocomplete: "off", dataset: { testid: "offer-price" } }) });
    const reference = field({ label: "Réf. fournisseur", name: "supplier_reference", control: input({ maxlength: 100, autocomplete: "off", dataset: { testid: "offer-reference" } }) });
    const minimum = field({ label: "Minimum de commande", name: "min_order_quantity", control: input({ type: "number", min: 1, step: 1, value: 1, dataset: { testid: "offer-minimum" } }) });
    const pack = field({ label: "Conditionnement", name: "pack_size", control: input({ type: "number", min: 1, step: 1, value: 1, dataset: { testid: "offer-pack" } }) });
    const lead = field({ label: "Délai (jours)", name: "lead_time_days", control: input({ type: "number", min: 0, step: 1, value: 0, dataset: { testid: "offer-lead" } }) });
    const preferred = h("input", { type: "checkbox", dataset: { testid: "offer-preferred" } });
    const target = field({ label: "Cible de réapprovisionnement", name: "reorder_target", hint: "Vide : deux fois le minimum.", control: input({ type: "number", min: 0, step: 1, value: currentTarget ?? "", dataset: { testid: "offer-target" } }) });
    const message = messageArea("offer-message");
    const submit = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "offer-create" } }, h("span", { text: "Ajouter l’offre" }));
    const saveTarget = button("Enregistrer la cible", { class: "btn", dataset: { testid: "target-save" }, on: { click: () => setTarget() } });
    const all = { supplier_id: supplier, unit_price_cents: price, supplier_reference: reference, min_order_quantity: minimum, pack_size: pack, lead_time_days: lead, reorder_target: target };
    loadSuppliers(signal)
      .then((list) => setOptions(supplier.control, [["", "— Choisir —"], ...list.map((s) => [s.id, s.name])], ""))
      .catch(() => setOptions(supplier.control, [["", "Fournisseurs indisponibles"]]));

    function fail(error) {
      message.show(error instanceof ApiError ? error.french() : "Enregistrement impossible.", "error");
      const messages = error instanceof ApiError ? fieldMessages(error) : {};
      for (const [key, f] of Object.entries(all)) f.setError(messages[key] || "");
    }

    async function setTarget() {
      message.clear();
      const raw = target.control.value.trim();
      try {
        await api.put(url, { reorder_target: raw === "" ? null : Number(raw) }, { signal });
        toast("Cible enregistrée.");
        await load();
      } catch (error) {
        fail(error);
      }
    }

    const form = h(
      "form",
      { class: "form", novalidate: true, dataset: { testid: "offer-form" } },
      h("h3", { class: "form__title", text: "Nouvelle offre" }),
      supplier.wrapper,
      h("div", { class: "form-grid form-grid--3" }, price.wrapper, reference.wrapper, minimum.wrapper, pack.wrapper, lead.wrapper),
      h("label", { class: "check" }, preferred, h("span", { text: "Offre préférée" })),
      message,
      h("div", { class: "form__actions" }, submit),
      h("div", { class: "form-grid" }, target.wrapper, h("div", { class: "form__actions" }, saveTarget)),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      const cents = parseCents(price.control.value);
      if (!supplier.control.value) return supplier.setError("Choisissez le fournisseur.");
      if (cents === null) return price.setError("Un prix en euros : 12,50.");
      setBusy(submit, true, "Ajout…");
      try {
        await api.post(
          "/api/purchasing/offers/",
          {
            supplier_id: Number(supplier.control.value),
            piece_id: piece.id,
            unit_price_cents: cents,
            supplier_reference: reference.control.value.trim(),
            min_order_quantity: Number(minimum.control.value || 1),
            pack_size: Number(pack.control.value || 1),
            lead_time_days: Number(lead.control.value || 0),
            preferred: preferred.checked,
          },
          { signal },
        );
        toast("Offre ajoutée.");
        await load();
      } catch (error) {
        if (error?.name === "AbortError") return;
        fail(error);
      } finally {
        setBusy(submit, false);
      }
    });
    return form;
  }

  load();
  return h(
    "section",
    { class: "card", "aria-labelledby": "achats-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "achats-titre", text: "Achats" }), h("a", { class: "card__link", href: "#/achats", text: "À commander" })),
    body,
  );
}
