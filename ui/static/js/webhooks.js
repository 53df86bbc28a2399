// Webhooks (administrateur) : les adresses à prévenir, pour quels
// événements ; le secret montré une fois à la création ; « Envoyer un
// test » ; le journal des envois de chacun.

import { api } from "./api.js";
import { h, replace, field, input, button, formatDateTime, plural, loading, loadError, messageArea, setBusy } from "./dom.js";
import { dataTable, confirmDialog, toast } from "./ui.js";
import { ApiError, fieldMessages } from "./errors.js";

export const WEBHOOK_EVENTS = {
  low_stock: "Stock bas",
  out_of_stock: "Rupture de stock",
  back_in_stock: "Retour en stock",
  movement: "Mouvement enregistré",
  piece_changed: "Pièce modifiée",
};

/** La carte des webhooks de la page Notifications. */
export function webhooksCard(signal) {
  const list = h("div", { dataset: { testid: "webhooks-list" } }, loading());
  const card = h(
    "section",
    { class: "card", "aria-labelledby": "webhooks-titre", dataset: { testid: "webhooks-card" } },
    h("div", { class: "card__header" }, h("h2", { id: "webhooks-titre", text: "Webhooks" })),
    h("div", { class: "card__body" }, h("p", { class: "muted small", text: "Chaque événement choisi part en POST JSON signé (en-tête X-Webhook-Signature, HMAC-SHA256), renvoyé jusqu’à ce que l’adresse réponde 2xx. Les hôtes permis sont ceux de la variable webhook_hosts." }), list, createForm(() => load())),
  );

  async function load() {
    try {
      const webhooks = await api.get("/api/notifications/webhooks/", { signal });
      if (!webhooks.length) {
        replace(list, h("p", { class: "muted small", text: "Aucun webhook." }));
        return;
      }
      replace(list, h("ul", { class: "plain-list" }, webhooks.map((w) => row(w))));
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(list, loadError(error instanceof ApiError ? error.french() : "Webhooks indisponibles.", load));
    }
  }

  function row(webhook) {
    const last = webhook.last_delivery;
    const state = last ? (last.delivered ? `dernier envoi reçu (${last.status}) le ${formatDateTime(last.at)}` : `dernier essai refusé : ${last.error || last.status}`) : "aucun envoi";
    const test = button("Envoyer un test", { class: "btn btn--small", dataset: { testid: "webhook-test" } });
    const log = button("Journal", { class: "btn btn--small btn--ghost", dataset: { testid: "webhook-log" } });
    const toggle = button(webhook.active ? "Suspendre" : "Reprendre", { class: "btn btn--small btn--ghost", dataset: { testid: "webhook-toggle" } });
    const remove = button("Supprimer", { class: "btn btn--small btn--danger-ghost", dataset: { testid: "webhook-delete" } });
    test.addEventListener("click", () => act(test, () => api.post(`/api/notifications/webhooks/${webhook.id}/test/`), "Essai envoyé : voyez le journal."));
    toggle.addEventListener("click", () => act(toggle, () => api.patch(`/api/notifications/webhooks/${webhook.id}/`, { active: !webhook.active }), webhook.active ? "Webhook suspendu." : "Webhook repris."));
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: "Supprimer ce webhook ?", message: `${webhook.url} ne recevra plus rien ; ses envois en attente sont abandonnés.`, confirmLabel: "Supprimer", danger: true });
      if (ok) act(remove, () => api.delete(`/api/notifications/webhooks/${webhook.id}/`), "Webhook supprimé.");
    });
    log.addEventListener("click", () => showLog(webhook));
    return h(
      "li",
      { class: "webhook", dataset: { testid: "webhook", id: webhook.id } },
      h("p", { class: "webhook__url" }, h("strong", { text: webhook.name || webhook.url }), webhook.name ? h("span", { class: "muted small block", text: webhook.url }) : null),
      h("p", { class: "muted small", text: `${webhook.events.map((e) => WEBHOOK_EVENTS[e] || e).join(", ")} · ${webhook.active ? "actif" : "suspendu"} · ${plural(webhook.pending, "envoi en attente", "envois en attente")} · ${state}`, dataset: { testid: "webhook-state" } }),
      h("div", { class: "webhook__actions" }, test, log, toggle, remove),
    );
  }

  async function act(btn, call, done) {
    setBusy(btn, true);
    try {
      await call();
      toast(done);
      await load();
    } catch (error) {
      setBusy(btn, false);
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  load();
  return card;
}

function createForm(onCreated) {
  const name = field({ label: "Nom", name: "name", hint: "Facultatif, par exemple « Messagerie de l’atelier »", control: input({ maxlength: 100, dataset: { testid: "webhook-name" } }) });
  const url = field({ label: "Adresse", name: "url", required: true, control: input({ type: "url", maxlength: 2000, placeholder: "https://…", dataset: { testid: "webhook-url" } }) });
  const boxes = Object.entries(WEBHOOK_EVENTS).map(([kind, label]) => {
    const id = `webhook-event-${kind}`;
    const box = h("input", { type: "checkbox", id, value: kind, checked: kind === "out_of_stock", dataset: { testid: `webhook-event-${kind}` } });
    return { box, row: h("div", { class: "check" }, box, h("label", { for: id, text: label })) };
  });
  const message = messageArea("webhook-message");
  const secret = h("div", { dataset: { testid: "webhook-secret" } });
  const submit = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "webhook-submit" } }, h("span", { text: "Ajouter le webhook" }));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("h3", { class: "form__title", text: "Nouveau webhook" }),
    name.wrapper,
    url.wrapper,
    h("fieldset", { class: "fieldset fieldset--compact" }, h("legend", { text: "Événements" }), h("div", { class: "check-list" }, boxes.map((b) => b.row))),
    message,
    secret,
    h("div", { class: "form__actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    replace(secret);
    setBusy(submit, true, "Ajout…");
    try {
      const { data } = await api.post("/api/notifications/webhooks/", { name: name.control.value.trim(), url: url.control.value.trim(), events: boxes.filter((b) => b.box.checked).map((b) => b.box.value) });
      replace(secret, h("div", { class: "notice notice--info" }, h("p", { text: "Le secret de signature, montré cette seule fois : copiez-le chez le destinataire." }), h("code", { class: "secret", dataset: { testid: "webhook-secret-value" }, text: data.secret })));
      form.reset();
      message.show("Webhook ajouté.", "success");
      onCreated();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const fields = fieldMessages(error);
      message.show(Object.keys(fields).length ? Object.values(fields).flat().join(" ") : error.french(), "error");
    } finally {
      setBusy(submit, false);
    }
  });
  return form;
}

/** Le journal des envois d'un webhook, dans une boîte de dialogue. */
async function showLog(webhook) {
  const body = h("div", { class: "dialog__body" }, loading());
  const close = button("Fermer", { class: "btn" });
  const dialog = h("dialog", { class: "dialog dialog--wide", "aria-labelledby": "journal-webhook-titre", dataset: { testid: "webhook-log-dialog" } }, h("h2", { class: "dialog__title", id: "journal-webhook-titre", text: `Envois vers ${webhook.name || webhook.url}` }), body, h("div", { class: "dialog__actions" }, close));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  try {
    const page = await api.get(`/api/notifications/webhooks/${webhook.id}/deliveries/`, { query: { page_size: 50 } });
    replace(
      body,
      page.results.length
        ? dataTable({
            caption: "Envois, du plus récent au plus ancien",
            testid: "webhook-deliveries",
            rows: page.results,
            columns: [
              { label: "Événement", cell: (d) => h("span", { class: "cell-stack" }, h("span", { text: WEBHOOK_EVENTS[d.type] || (d.type === "test" ? "Essai" : d.type) }), h("span", { class: "muted small", text: d.event_id })) },
              { label: "Essais", numeric: true, cell: (d) => String(d.attempts) },
              { label: "État", cell: (d) => (d.delivered_at ? `reçu (${d.last_status}) le ${formatDateTime(d.delivered_at)}` : d.attempts ? `refusé : ${d.last_error || d.last_status} ; nouvel essai ${formatDateTime(d.next_attempt_at)}` : "en attente") },
            ],
          })
        : h("p", { class: "muted", text: "Aucun envoi pour l’instant." }),
    );
  } catch (error) {
    replace(body, loadError(error instanceof ApiError ? error.french() : "Journal indisponible.", null));
  }
}
