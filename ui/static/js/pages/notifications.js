// Notifications : liste, marquer lu (une / toutes), préférences, message
// (gestionnaire et au-dessus).

import { api } from "../api.js";
import { h, icon, replace, field, input, select, button, formatDateTime, plural, loading, emptyState, loadError, messageArea, setBusy } from "../dom.js";
import { pageHeader, pagination, pagedList, bindFilters, pageFromQuery, toast } from "../ui.js";
import { may } from "../session.js";
import { refreshBell, onBellChange } from "../bell.js";
import { NOTIFICATION_TYPES, ROLE_LABELS } from "../labels.js";
import { ApiError, fieldMessages } from "../errors.js";
import { webhooksCard } from "../webhooks.js";

export const name = "notifications";
export const title = () => "Notifications";

const PAGE_SIZE = 20;
const TYPE_ICONS = { low_stock: "alert", out_of_stock: "out", back_in_stock: "check", manual: "mail" };
const TYPES = [["", "Tous"], ...Object.entries(NOTIFICATION_TYPES)];

export async function render({ container, query, signal, updateQuery }) {
  const state = {
    unread: query.get("filtre") === "non-lues",
    type: NOTIFICATION_TYPES[query.get("type")] ? query.get("type") : "",
    page: pageFromQuery(query),
  };

  const markAll = button("Tout marquer comme lu", { class: "btn", dataset: { testid: "mark-all-read" } }, "check");
  container.append(pageHeader("Notifications", { subtitle: "Alertes de stock et messages de l’équipe.", actions: [markAll] }));

  // --- Filtres ----------------------------------------------------------------------
  const filterName = "filtre-notifications";
  const allRadio = h("input", { type: "radio", name: filterName, id: "filtre-toutes", value: "toutes", checked: !state.unread });
  const unreadRadio = h("input", { type: "radio", name: filterName, id: "filtre-non-lues", value: "non-lues", checked: state.unread, dataset: { testid: "filter-unread" } });
  const type = field({ label: "Type", name: "type", control: select(TYPES, { value: state.type }) });
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Filtrer les notifications", on: { submit: (e) => e.preventDefault() } },
    h(
      "fieldset",
      { class: "field segmented-field" },
      h("legend", { class: "field__label", text: "Afficher" }),
      h("div", { class: "segmented" }, h("span", { class: "segmented__option" }, allRadio, h("label", { for: "filtre-toutes", text: "Toutes" })), h("span", { class: "segmented__option" }, unreadRadio, h("label", { for: "filtre-non-lues", text: "Non lues" }))),
      h("p", { class: "field__error" }),
    ),
    type.wrapper,
  );
  const list = h("div", { class: "results", dataset: { testid: "notifications-list" } }, loading("Chargement des notifications…"));
  const live = h("p", { class: "sr-only", "aria-live": "polite" });

  const layout = h("div", { class: "split split--notifications" });
  layout.append(h("section", { class: "card card--flush split__main", "aria-label": "Liste des notifications" }, h("div", { class: "card__body" }, filters), list, live));
  const aside = h("div", { class: "split__aside stack" });
  layout.append(aside);
  container.append(layout);

  const { load, goToPage } = pagedList({
    results: list,
    state,
    onStart: () => updateQuery({ filtre: state.unread ? "non-lues" : "", type: state.type, page: state.page > 1 ? state.page : "" }),
    fetchPage: () => api.get("/api/notifications/", { query: { unread: state.unread ? "true" : undefined, type: state.type, page: state.page, page_size: PAGE_SIZE }, signal }),
    show: renderList,
  });

  function renderList(page) {
    if (page.results.length === 0) {
      replace(list, emptyState(state.unread ? "Aucune notification non lue. Tout est à jour !" : "Aucune notification pour l’instant.", { iconName: "bell", testid: "notifications-empty" }));
      return;
    }
    replace(
      list,
      h(
        "ul",
        { class: "notifications" },
        page.results.map((n) => {
          const item = h(
            "li",
            { class: ["notification", !n.read && "notification--unread", `notification--${n.type}`], dataset: { testid: "notification", id: n.id, type: n.type, read: n.read, reference: n.piece?.reference || "" } },
            h("span", { class: "notification__icon" }, icon(TYPE_ICONS[n.type] || "bell")),
            h(
              "div",
              { class: "notification__body" },
              h("p", { class: "notification__title" }, h("strong", { text: n.title }), !n.read ? h("span", { class: "tag tag--info", text: "Non lue" }) : null),
              h("p", { class: "notification__message", text: n.message }),
              h(
                "p",
                { class: "notification__meta muted small" },
                `${NOTIFICATION_TYPES[n.type] || n.type} · ${formatDateTime(n.created_at)}`,
                n.audience?.role ? ` · pour : ${ROLE_LABELS[n.audience.role]?.toLowerCase() || n.audience.role} et plus` : "",
                n.piece ? [" · ", h("a", { href: `#/pieces/${n.piece.id}`, text: `Voir ${n.piece.reference}` })] : null,
              ),
            ),
            h(
              "div",
              { class: "notification__actions" },
              n.read ? null : button("Marquer comme lue", { class: "btn btn--small", "aria-label": `Marquer comme lue : ${n.title}`, dataset: { testid: "mark-read" }, on: { click: (event) => markRead([n.id], event.currentTarget) } }, "check"),
            ),
          );
          return item;
        }),
      ),
      pagination({
        page: state.page,
        pageSize: PAGE_SIZE,
        count: page.count,
        noun: ["notification", "notifications"],
        onChange: goToPage,
      }),
    );
    live.textContent = `${plural(page.count, "notification", "notifications")}.`;
  }

  async function markRead(ids, btn) {
    setBusy(btn, true, "…");
    try {
      const { data } = await api.post("/api/notifications/mark-read/", ids ? { ids } : { all: true });
      if (!ids) toast(data.marked ? `${plural(data.marked, "notification marquée", "notifications marquées")} comme lue${data.marked > 1 ? "s" : ""}.` : "Tout était déjà lu.");
      else toast("Notification marquée comme lue.");
      await refreshBell();
      await load();
      // Le focus ne se perd pas : il revient sur la liste.
      if (!btn.isConnected) (list.querySelector('[data-testid="mark-read"]') || markAll).focus();
    } catch (error) {
      if (btn.isConnected) setBusy(btn, false);
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  markAll.addEventListener("click", async () => {
    await markRead(null, markAll);
    setBusy(markAll, false);
  });
  for (const radio of [allRadio, unreadRadio]) {
    radio.addEventListener("change", () => {
      state.unread = unreadRadio.checked;
      goToPage(1);
    });
  }
  bindFilters({ state, reload: load, selects: { type: type.control } });

  // Une nouvelle alerte arrive pendant qu'on regarde la page.
  const unsubscribe = onBellChange(() => load());

  aside.append(preferencesCard(signal));
  if (may.manageUsers()) aside.append(audiencesCard(signal), webhooksCard(signal));
  if (may.sendMessage()) aside.append(messageCard());

  await load();
  return unsubscribe;
}

/** Préférences d'alertes de stock. */
function preferencesCard(signal) {
  const body = h("div", { class: "card__body" }, loading());
  const card = h("section", { class: "card", "aria-labelledby": "prefs-titre" }, h("div", { class: "card__header" }, h("h2", { id: "prefs-titre", text: "Mes préférences" })), body);

  (async () => {
    let prefs;
    let categories = [];
    try {
      [prefs, categories] = await Promise.all([api.get("/api/notifications/preferences/", { signal }), api.get("/api/pieces/categories/", { signal }).catch(() => [])]);
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(body, loadError(error instanceof ApiError ? error.french() : "Préférences indisponibles.", null));
      return;
    }
    const names = [...new Set([...categories.map((c) => c.category), ...prefs.categories])].sort((a, b) => a.localeCompare(b, "fr"));
    const alerts = h("input", { type: "checkbox", id: "prefs-alertes", checked: prefs.stock_alerts, dataset: { testid: "prefs-stock-alerts" } });
    const boxes = names.map((category, index) => {
      const id = `prefs-cat-${index}`;
      const box = h("input", { type: "checkbox", id, value: category, checked: prefs.categories.includes(category) });
      return { box, row: h("div", { class: "check" }, box, h("label", { for: id, text: category })) };
    });
    const message = messageArea("prefs-message");
    const submit = h("button", { type: "submit", class: "btn btn--primary" }, h("span", { text: "Enregistrer" }));
    const receives = h("p", { class: "notice notice--info small", dataset: { testid: "prefs-receives" } });
    const showReceives = (current) => {
      const kinds = ["low_stock", "out_of_stock", "back_in_stock"].filter((kind) => current.audience.includes(kind)).map((kind) => NOTIFICATION_TYPES[kind].toLowerCase());
      receives.textContent = !current.stock_alerts
        ? "Vous ne recevez pas les alertes de stock. Les messages de l’équipe vous parviennent toujours."
        : kinds.length
          ? `Votre rôle reçoit les alertes : ${kinds.join(", ")} ; et vous, celles des pièces et catégories que vous suivez.`
          : "Votre rôle ne reçoit pas d’alerte de stock : seules celles des pièces et catégories que vous suivez vous parviennent. Les messages de l’équipe aussi.";
    };
    showReceives(prefs);
    const followed = h("div", { dataset: { testid: "prefs-pieces" } });
    const showFollowed = (pieces) => {
      if (!pieces.length) {
        replace(followed, h("p", { class: "muted small", text: "Aucune pièce suivie : « Suivre » sur la fiche d’une pièce." }));
        return;
      }
      replace(
        followed,
        h(
          "ul",
          { class: "plain-list" },
          pieces.map((id) => {
            const stop = button("Ne plus suivre", { class: "btn btn--small btn--ghost", dataset: { testid: "unfollow-piece" } });
            stop.addEventListener("click", async () => {
              setBusy(stop, true);
              try {
                const { data } = await api.delete(`/api/notifications/follows/pieces/${id}/`);
                prefs = data;
                showFollowed(data.pieces);
                showReceives(data);
                refreshBell();
              } catch (error) {
                if (!(error instanceof ApiError)) throw error;
                setBusy(stop, false);
                toast(error.french(), "error");
              }
            });
            return h("li", { class: "plain-list__row" }, h("a", { href: `#/pieces/${id}`, text: `Pièce n° ${id}` }), stop);
          }),
        ),
      );
    };
    showFollowed(prefs.pieces);
    const categoriesFieldset = h(
      "fieldset",
      { class: "fieldset fieldset--compact", disabled: !prefs.stock_alerts },
      h("legend", { text: "Catégories suivies" }),
      h("p", { class: "field__hint", text: "Aucune cochée : toutes celles que votre rôle reçoit. Cochées : seulement celles-ci, même si votre rôle ne les reçoit pas." }),
      boxes.length ? h("div", { class: "check-list" }, boxes.map((b) => b.row)) : h("p", { class: "muted small", text: "Aucune catégorie dans le catalogue." }),
    );
    alerts.addEventListener("change", () => {
      categoriesFieldset.disabled = !alerts.checked;
    });
    const form = h(
      "form",
      { class: "form", novalidate: true, dataset: { testid: "prefs-form" } },
      receives,
      h("div", { class: "check" }, alerts, h("label", { for: "prefs-alertes", text: "Recevoir les alertes de stock" })),
      categoriesFieldset,
      h("fieldset", { class: "fieldset fieldset--compact" }, h("legend", { text: "Pièces suivies" }), followed),
      message,
      h("div", { class: "form__actions" }, submit),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      setBusy(submit, true, "Enregistrement…");
      try {
        const { data } = await api.put("/api/notifications/preferences/", { stock_alerts: alerts.checked, categories: boxes.filter((b) => b.box.checked).map((b) => b.box.value) });
        prefs = data;
        showReceives(data);
        message.show("Préférences enregistrées.", "success");
        refreshBell();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        message.show(error.french(), "error");
      } finally {
        setBusy(submit, false);
      }
    });
    replace(body, form);
  })();
  return card;
}

const AUDIENCE_ROLES = [
  ["", "Personne (seulement les comptes cochés)"],
  ["viewer", "Tous les rôles"],
  ["operator", "Magasiniers et au-dessus"],
  ["manager", "Gestionnaires et au-dessus"],
  ["admin", "Administrateurs"],
];

/** Qui reçoit chaque sorte d'alerte de stock (administrateur). */
function audiencesCard(signal) {
  const body = h("div", { class: "card__body" }, loading());
  const card = h("section", { class: "card", "aria-labelledby": "audiences-titre", dataset: { testid: "audiences-card" } }, h("div", { class: "card__header" }, h("h2", { id: "audiences-titre", text: "Destinataires des alertes" })), body);
  (async () => {
    let audiences;
    let users = [];
    try {
      [audiences, users] = await Promise.all([
        api.get("/api/notifications/audiences/", { signal }),
        api.get("/api/auth/users/", { query: { page_size: 200, ordering: "username" }, signal }).then((page) => page.results.filter((u) => u.is_active)),
      ]);
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(body, loadError(error instanceof ApiError ? error.french() : "Destinataires indisponibles.", null));
      return;
    }
    const kinds = ["low_stock", "out_of_stock", "back_in_stock"].map((kind) => {
      const role = field({ label: "Rôles", name: `${kind}-role`, control: select(AUDIENCE_ROLES, { value: audiences[kind].role || "", dataset: { testid: `audience-${kind}-role` } }) });
      const boxes = users.map((user) => {
        const id = `audience-${kind}-${user.id}`;
        const box = h("input", { type: "checkbox", id, value: user.id, checked: audiences[kind].users.includes(user.id), dataset: { testid: `audience-${kind}-user`, username: user.username } });
        return { box, row: h("div", { class: "check" }, box, h("label", { for: id, text: user.username })) };
      });
      const fieldset = h("fieldset", { class: "fieldset fieldset--compact" }, h("legend", { text: NOTIFICATION_TYPES[kind] }), role.wrapper, h("p", { class: "field__hint", text: "Et ces comptes, quel que soit leur rôle :" }), h("div", { class: "check-list" }, boxes.map((b) => b.row)));
      return { kind, role, boxes, fieldset };
    });
    const message = messageArea("audiences-message");
    const submit = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "audiences-submit" } }, h("span", { text: "Enregistrer" }));
    const form = h("form", { class: "form", novalidate: true }, h("p", { class: "muted small", text: "Chacun peut en plus suivre des pièces et des catégories dans ses préférences." }), kinds.map((k) => k.fieldset), message, h("div", { class: "form__actions" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      setBusy(submit, true, "Enregistrement…");
      const chosen = Object.fromEntries(kinds.map((k) => [k.kind, { role: k.role.control.value || null, users: k.boxes.filter((b) => b.box.checked).map((b) => Number(b.box.value)) }]));
      try {
        await api.put("/api/notifications/audiences/", chosen);
        message.show("Destinataires enregistrés.", "success");
        refreshBell();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        message.show(error.french(), "error");
      } finally {
        setBusy(submit, false);
      }
    });
    replace(body, form);
  })();
  return card;
}

/** Message à un rôle (et au-dessus), gestionnaire et au-dessus. */
function messageCard() {
  const titleField = field({ label: "Titre", name: "title", required: true, control: input({ maxlength: 200 }) });
  const text = field({ label: "Message", name: "message", required: true, control: h("textarea", { class: "input", rows: 3, maxlength: 2000 }) });
  const audience = field({
    label: "Destinataires",
    name: "role",
    control: select([
      ["viewer", "Tout le monde"],
      ["operator", "Magasiniers et au-dessus"],
      ["manager", "Gestionnaires et administrateurs"],
      ["admin", "Administrateurs"],
    ]),
  });
  const message = messageArea("send-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary" }, icon("mail"), h("span", { text: "Envoyer" }));
  const form = h("form", { class: "form", novalidate: true, dataset: { testid: "message-form" } }, titleField.wrapper, text.wrapper, audience.wrapper, message, h("div", { class: "form__actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    titleField.setError("");
    text.setError("");
    audience.setError("");
    message.clear();
    const body = { title: titleField.control.value.trim(), message: text.control.value.trim(), role: audience.control.value };
    let invalid = false;
    if (!body.title) {
      titleField.setError("Le titre est obligatoire.");
      invalid = true;
    }
    if (!body.message) {
      text.setError("Le message est obligatoire.");
      invalid = true;
    }
    if (invalid) {
      (body.title ? text : titleField).control.focus();
      return;
    }
    setBusy(submit, true, "Envoi…");
    try {
      await api.post("/api/notifications/", body);
      message.show("Message envoyé.", "success");
      titleField.control.value = "";
      text.control.value = "";
      refreshBell();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.show(error.french(), "error");
      const fields = fieldMessages(error);
      if (fields.title) titleField.setError(fields.title);
      if (fields.message) text.setError(fields.message);
      if (fields.audience) audience.setError(fields.audience);
    } finally {
      setBusy(submit, false);
    }
  });
  return h("section", { class: "card", "aria-labelledby": "message-titre" }, h("div", { class: "card__header" }, h("h2", { id: "message-titre", text: "Envoyer un message" })), h("div", { class: "card__body" }, form));
}
