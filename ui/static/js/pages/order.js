// Une commande fournisseur : ses lignes et son total (imprimable comme bon
// de commande), l'envoi et l'annulation (gestionnaire), et la réception
// (magasinier) : un champ unique où l'on lit ou tape « RÉFÉRENCE
// [QUANTITÉ] » puis Entrée, autant de fois qu'il faut, puis on enregistre.
// Chaque réception porte un Idempotency-Key : la renvoyer après une coupure
// n'entre rien deux fois.

import { api } from "../api.js";
import { h, replace, field, input, select, setOptions, button, messageArea, setBusy, formatDateTime, formatNumber, loading, loadError, uuid } from "../dom.js";
import { pageHeader, dataTable, confirmDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { ApiError } from "../errors.js";
import { loadLocations, locationOptions } from "../locations.js";
import { formatCents, orderBadge, RECEPTION_STATES } from "../purchasing.js";
import { lineScanner } from "../scan.js";
import { refreshBellSoon } from "../bell.js";

export const name = "commande";
export const title = (params) => `Commande ${params[0]}`;

const RECEIVABLE = ["sent", "partial"];

export async function render({ container, params, signal, navigate }) {
  const id = Number(params[0]);
  const url = `/api/purchasing/orders/${id}/`;
  container.append(loading("Chargement de la commande…"));

  async function load() {
    let order;
    let supplier = null;
    try {
      order = await api.get(url, { signal });
      supplier = await api.get(`/api/purchasing/suppliers/${order.supplier_id}/`, { signal }).catch(() => null);
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(
        container,
        pageHeader(`Commande ${id}`, { back: { href: "#/commandes", label: "Retour aux commandes" } }),
        loadError(error instanceof ApiError ? error.french({ notFound: "Cette commande n’existe pas." }) : "Chargement impossible.", () => navigate(`/commandes/${id}`)),
      );
      return;
    }
    show(order, supplier);
  }

  function show(order, supplier) {
    const open = ["draft", "sent", "partial"].includes(order.status);
    const actions = [button("Imprimer", { class: "btn", dataset: { testid: "order-print" }, on: { click: () => window.print() } })];
    if (may.managePurchasing() && order.status === "draft") {
      actions.push(button("Envoyer", { class: "btn btn--primary", dataset: { testid: "order-send" }, on: { click: () => act("send/", "Commande envoyée.") } }));
      actions.push(button("Supprimer", { class: "btn btn--danger-ghost", dataset: { testid: "order-delete" }, on: { click: remove } }));
    } else if (may.managePurchasing() && open) {
      actions.push(button("Annuler la commande", { class: "btn btn--danger-ghost", dataset: { testid: "order-cancel" }, on: { click: cancel } }));
    }
    replace(
      container,
      pageHeader(`Commande ${order.id} — ${order.supplier_name}`, {
        subtitle: h("span", { class: "subtitle-line" }, orderBadge(order.status), ` créée le ${formatDateTime(order.created_at)} par ${order.created_by}`, order.sent_at ? ` · envoyée le ${formatDateTime(order.sent_at)}` : ""),
        actions,
        back: { href: "#/commandes", label: "Retour aux commandes" },
      }),
      h(
        "div",
        { class: "split" },
        h("div", { class: "split__main stack" }, purchaseOrder(order, supplier), receptions(order)),
        may.receive() && RECEIVABLE.includes(order.status) ? h("div", { class: "split__aside stack no-print" }, receiveCard(order)) : null,
      ),
    );
  }

  async function act(action, done) {
    try {
      await api.post(`${url}${action}`, undefined, { signal });
      toast(done);
      await load();
    } catch (error) {
      if (error?.name === "AbortError") return;
      toast(error instanceof ApiError ? error.french() : "Action impossible.", "error");
    }
  }

  async function cancel() {
    const ok = await confirmDialog({ title: "Annuler la commande ?", message: "Ce qui a été reçu reste en stock ; le reste n’est plus attendu.", confirmLabel: "Annuler la commande", cancelLabel: "Garder", danger: true });
    if (ok) await act("cancel/", "Commande annulée.");
  }

  async function remove() {
    const ok = await confirmDialog({ title: "Supprimer ce brouillon ?", message: "Le brouillon et ses lignes disparaissent.", confirmLabel: "Supprimer", cancelLabel: "Garder", danger: true });
    if (!ok) return;
    try {
      await api.delete(url, { signal });
      toast("Brouillon supprimé.");
      navigate("/commandes");
    } catch (error) {
      if (error?.name === "AbortError") return;
      toast(error instanceof ApiError ? error.french() : "Suppression impossible.", "error");
    }
  }

  function receiveCard(order) {
    const pending = new Map(); // line id -> quantity
    const scan = lineScanner({
      lines: () => order.lines,
      hint: "« RÉFÉRENCE » ajoute 1, « RÉFÉRENCE 12 » ajoute 12 ; Entrée après chaque lecture.",
      testid: "receive-scan",
      outside: (code) => `${code} n’est pas dans cette commande.`,
      onRead: (line, quantity) => {
        pending.set(line.id, (pending.get(line.id) ?? 0) + quantity);
        showPending();
      },
      signal,
    });
    const place = field({ label: "Ranger dans", name: "location_id", control: select([["", "Emplacement par défaut"]], { dataset: { testid: "receive-location" } }) });
    const over = h("input", { type: "checkbox", dataset: { testid: "receive-over" } });
    const list = h("ul", { class: "compact-list", dataset: { testid: "receive-pending" }, "aria-live": "polite" });
    const message = messageArea("receive-message");
    const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", disabled: true, dataset: { testid: "receive-submit" } }, h("span", { text: "Enregistrer la réception" }));
    let key = null;
    loadLocations(signal)
      .then((locations) => setOptions(place.control, locationOptions(locations, ["", "Emplacement par défaut"]), ""))
      .catch(() => {});

    function showPending() {
      key = null;
      submit.disabled = pending.size === 0;
      replace(
        list,
        [...pending].map(([lineId, quantity]) => {
          const line = order.lines.find((l) => l.id === lineId);
          return h(
            "li",
            { dataset: { testid: "receive-line", reference: line.reference } },
            h("span", { class: "ref", text: line.reference }),
            h("strong", { dataset: { testid: "receive-quantity" }, text: ` × ${formatNumber(quantity)}` }),
            h("span", { class: "muted small", text: ` (reste ${formatNumber(line.remaining)})` }),
            button("Retirer", { class: "btn btn--small btn--ghost", on: { click: () => { pending.delete(lineId); showPending(); scan.control.focus(); } } }),
          );
        }),
      );
    }

    const form = h("form", { class: "form", novalidate: true }, scan.wrapper, list, place.wrapper, h("label", { class: "check" }, over, h("span", { text: "Accepter plus que le restant dû" })), message, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      if (pending.size === 0) return;
      key ??= uuid();
      const body = {
        lines: [...pending].map(([line_id, quantity]) => ({ line_id, quantity })),
        location_id: place.control.value ? Number(place.control.value) : null,
        over_receipt: over.checked,
      };
      setBusy(submit, true, "Enregistrement…");
      try {
        const { response } = await api.post(`${url}receive/`, body, { headers: { "Idempotency-Key": key }, signal });
        toast(response.status === 202 ? "Réception enregistrée ; le stock la prendra en compte dès qu’il répond." : "Réception entrée en stock.");
        refreshBellSoon();
        await load();
      } catch (error) {
        if (error?.name === "AbortError") return;
        message.show(error instanceof ApiError ? error.french() : "Réception impossible.", "error");
        if (error instanceof ApiError && error.status < 500) key = null;
      } finally {
        setBusy(submit, false);
        submit.disabled = pending.size === 0;
      }
    });
    queueMicrotask(() => scan.control.focus());
    return h(
      "section",
      { class: "card", "aria-labelledby": "reception-titre", dataset: { testid: "receive" } },
      h("div", { class: "card__header" }, h("h2", { id: "reception-titre", text: "Réception" })),
      h("div", { class: "card__body" }, form),
    );
  }

  await load();
}

/** Le bon de commande : fournisseur, lignes, total ; ce qui s'imprime. */
function purchaseOrder(order, supplier) {
  const contact = supplier ? [supplier.contact, supplier.email, supplier.phone].filter(Boolean).join(" · ") : "";
  return h(
    "section",
    { class: "card card--flush purchase-order", "aria-labelledby": "bon-titre", dataset: { testid: "purchase-order" } },
    h(
      "div",
      { class: "card__header" },
      h("h2", { id: "bon-titre", text: `Bon de commande n° ${order.id}` }),
      h("span", { class: "muted", text: order.sent_at ? `du ${formatDateTime(order.sent_at, true)}` : "brouillon" }),
    ),
    h("div", { class: "card__body" }, h("p", {}, h("strong", { text: order.supplier_name }), contact ? h("span", { class: "muted", text: ` — ${contact}` }) : null), order.note ? h("p", { class: "muted", text: order.note }) : null),
    dataTable({
      caption: `Lignes de la commande ${order.id}`,
      testid: "order-lines-table",
      rows: order.lines,
      rowAttrs: (l) => ({ dataset: { testid: "order-line", reference: l.reference } }),
      columns: [
        { label: "Référence", cell: (l) => h("a", { href: `#/pieces/${l.piece_id}`, class: "ref", text: l.reference }) },
        { label: "Désignation", wide: true, cell: (l) => l.name },
        { label: "Réf. fournisseur", cell: (l) => l.supplier_reference },
        { label: "Quantité", numeric: true, cell: (l) => formatNumber(l.quantity) },
        { label: "Reçue", numeric: true, cell: (l) => h("span", { dataset: { testid: "line-received" }, text: formatNumber(l.received) }) },
        { label: "Prix unitaire", numeric: true, cell: (l) => formatCents(l.unit_price_cents, order.currency) },
        { label: "Total", numeric: true, cell: (l) => formatCents(l.total_cents, order.currency) },
      ],
    }),
    h("p", { class: "card__body order-total", dataset: { testid: "order-total" } }, "Total : ", h("strong", { text: formatCents(order.total_cents, order.currency) })),
  );
}

function receptions(order) {
  if (order.receptions.length === 0) return null;
  return h(
    "section",
    { class: "card card--flush no-print", "aria-labelledby": "receptions-titre" },
    h("div", { class: "card__header" }, h("h2", { id: "receptions-titre", text: "Réceptions" })),
    dataTable({
      caption: "Réceptions de la commande",
      testid: "receptions",
      rows: order.receptions,
      rowAttrs: (r) => ({ dataset: { testid: "reception", state: r.state } }),
      columns: [
        { label: "Date", cell: (r) => formatDateTime(r.created_at) },
        { label: "Pièce", cell: (r) => h("span", { class: "ref", text: r.reference }) },
        { label: "Quantité", numeric: true, cell: (r) => formatNumber(r.quantity) },
        { label: "État", wide: true, cell: (r) => (r.detail ? `${RECEPTION_STATES[r.state]} : ${r.detail}` : RECEPTION_STATES[r.state] || r.state) },
        { label: "Par", cell: (r) => r.username },
      ],
    }),
  );
}
