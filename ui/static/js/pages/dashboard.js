// Tableau de bord : compteurs, derniers mouvements, alertes non lues.

import { api } from "../api.js";
import { h, icon, replace, formatNumber, formatDateTime, formatSigned, todayUtc, loading, emptyState, loadError } from "../dom.js";
import { pageHeader, dataTable, movementBadge, statusBadge } from "../ui.js";
import { session, may } from "../session.js";
import { onBellChange } from "../bell.js";
import { NOTIFICATION_TYPES } from "../labels.js";
import { ApiError } from "../errors.js";

export const name = "tableau-de-bord";
export const title = () => "Tableau de bord";

function statCard({ label, value, href, tone, iconName, testid, hint }) {
  return h(
    "a",
    { class: ["stat", tone && `stat--${tone}`], href, dataset: { testid } },
    h("span", { class: "stat__icon" }, icon(iconName)),
    h("span", { class: "stat__body" }, h("span", { class: "stat__value", dataset: { testid: `${testid}-value` }, text: value }), h("span", { class: "stat__label", text: label }), hint ? h("span", { class: "stat__hint", text: hint }) : null),
  );
}

export async function render({ container, signal }) {
  const today = todayUtc();
  const actions = [];
  if (may.recordMovement()) {
    actions.push(h("a", { class: "btn btn--primary", href: "#/stock" }, icon("plus"), h("span", { text: "Enregistrer un mouvement" })));
  }
  container.append(pageHeader("Tableau de bord", { subtitle: `Bonjour ${session.user.username}. Voici l’état du stock.`, actions }));

  const stats = h("div", { class: "stats", "aria-busy": "true" }, loading("Chargement des compteurs…"));
  const movementsBox = h("div", { class: "card__body" }, loading());
  const alertsBox = h("div", { class: "card__body" }, loading());
  const restockBox = h("div", { class: "card__body" }, loading());

  container.append(
    h("section", { "aria-label": "Compteurs" }, stats),
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card", "aria-labelledby": "tdb-mouvements" },
        h("div", { class: "card__header" }, h("h2", { id: "tdb-mouvements", text: "Derniers mouvements" }), h("a", { href: "#/historique", class: "card__link", text: "Tout l’historique" })),
        movementsBox,
      ),
      h(
        "div",
        { class: "stack" },
        h(
          "section",
          { class: "card", "aria-labelledby": "tdb-alertes" },
          h("div", { class: "card__header" }, h("h2", { id: "tdb-alertes", text: "Notifications non lues" }), h("a", { href: "#/notifications", class: "card__link", text: "Toutes les notifications" })),
          alertsBox,
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "tdb-reappro" },
          h("div", { class: "card__header" }, h("h2", { id: "tdb-reappro", text: "À réapprovisionner" }), h("a", { href: "#/stock?status=low", class: "card__link", text: "Voir le stock" })),
          restockBox,
        ),
      ),
    ),
  );

  const count = (promise) => promise.then((page) => page.count);
  const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

  async function load() {
    const [pieces, low, out, todayMoves, unread, lastMoves, unreadList, restockOut, restockLow, toOrder] = await Promise.all([
      settle(count(api.get("/api/pieces/", { query: { archived: "false", page_size: 1 }, signal }))),
      settle(count(api.get("/api/stock/", { query: { status: "low", page_size: 1 }, signal }))),
      settle(count(api.get("/api/stock/", { query: { status: "out", page_size: 1 }, signal }))),
      settle(count(api.get("/api/stock/movements/", { query: { date_from: today, date_to: today, page_size: 1 }, signal }))),
      settle(api.get("/api/notifications/unread-count/", { signal }).then((data) => data.unread)),
      settle(api.get("/api/stock/movements/", { query: { page_size: 8 }, signal })),
      settle(api.get("/api/notifications/", { query: { unread: "true", page_size: 5 }, signal })),
      settle(api.get("/api/stock/", { query: { status: "out", page_size: 5, ordering: "reference" }, signal })),
      settle(api.get("/api/stock/", { query: { status: "low", page_size: 5, ordering: "quantity" }, signal })),
      settle(api.get("/api/purchasing/reorder/", { signal }).then((list) => list.count)),
    ]);
    if (signal.aborted) return;
    const show = (result) => (result.error ? "—" : formatNumber(result.value));
    stats.removeAttribute("aria-busy");
    replace(
      stats,
      statCard({ label: "Pièces actives", value: show(pieces), href: "#/pieces", iconName: "box", testid: "stat-pieces" }),
      statCard({ label: "En stock bas", value: show(low), href: "#/stock?status=low", iconName: "alert", tone: low.value > 0 ? "low" : null, testid: "stat-low" }),
      statCard({ label: "En rupture", value: show(out), href: "#/stock?status=out", iconName: "out", tone: out.value > 0 ? "out" : null, testid: "stat-out" }),
      statCard({ label: "À commander", value: show(toOrder), href: "#/achats", iconName: "clipboard", tone: toOrder.value > 0 ? "low" : null, testid: "stat-to-order" }),
      statCard({ label: "Mouvements aujourd’hui", value: show(todayMoves), href: `#/historique?date_from=${today}&date_to=${today}`, iconName: "history", testid: "stat-today", hint: "journée UTC" }),
      statCard({ label: "Notifications non lues", value: show(unread), href: "#/notifications?filtre=non-lues", iconName: "bell", tone: unread.value > 0 ? "info" : null, testid: "stat-unread" }),
    );

    // Derniers mouvements.
    if (lastMoves.error) {
      replace(movementsBox, loadError(messageOf(lastMoves.error), load));
    } else if (lastMoves.value.results.length === 0) {
      replace(
        movementsBox,
        emptyState("Aucun mouvement enregistré pour l’instant.", {
          iconName: "history",
          action: may.recordMovement() ? h("a", { class: "btn btn--small", href: "#/stock", text: "Enregistrer le premier mouvement" }) : null,
        }),
      );
    } else {
      replace(
        movementsBox,
        dataTable({
          caption: "Derniers mouvements",
          testid: "recent-movements",
          rows: lastMoves.value.results,
          columns: [
            { label: "Date", className: "nowrap", cell: (m) => formatDateTime(m.created_at) },
            { label: "Pièce", wide: true, cell: (m) => h("span", { class: "cell-stack" }, h("a", { href: `#/pieces/${m.piece_id}`, class: "ref", text: m.reference }), h("span", { class: "muted small", text: m.name })) },
            { label: "Type", cell: (m) => movementBadge(m.type) },
            { label: "Variation", numeric: true, cell: (m) => h("span", { class: ["delta", m.delta > 0 ? "delta--up" : m.delta < 0 ? "delta--down" : ""], text: formatSigned(m.delta) }) },
            { label: "Niveau", numeric: true, cell: (m) => formatNumber(m.level_after) },
            { label: "Par", cell: (m) => m.user },
          ],
        }),
      );
    }

    // Notifications non lues.
    renderAlerts(unreadList);

    // À réapprovisionner : ruptures puis stocks bas.
    if (restockOut.error || restockLow.error) {
      replace(restockBox, loadError(messageOf(restockOut.error || restockLow.error), load));
    } else {
      const levels = [...restockOut.value.results, ...restockLow.value.results].slice(0, 6);
      if (levels.length === 0) {
        replace(restockBox, emptyState("Aucune pièce sous son seuil minimum.", { iconName: "check" }));
      } else {
        replace(
          restockBox,
          h(
            "ul",
            { class: "compact-list" },
            levels.map((level) =>
              h(
                "li",
                {},
                h("a", { href: `#/pieces/${level.piece_id}` }, h("span", { class: "ref", text: level.reference }), " ", h("span", { class: "muted", text: level.name })),
                h("span", { class: "compact-list__end" }, h("span", { class: "qty", text: `${formatNumber(level.quantity)} / ${formatNumber(level.min_stock)}` }), statusBadge(level.status)),
              ),
            ),
          ),
        );
      }
    }
  }

  function renderAlerts(result) {
    if (result.error) {
      replace(alertsBox, loadError(messageOf(result.error), load));
    } else if (result.value.results.length === 0) {
      replace(alertsBox, emptyState("Aucune notification non lue.", { iconName: "bell" }));
    } else {
      replace(
        alertsBox,
        h(
          "ul",
          { class: "compact-list" },
          result.value.results.map((n) =>
            h(
              "li",
              {},
              h("span", {}, h("strong", { text: n.title }), h("span", { class: "muted block small", text: `${NOTIFICATION_TYPES[n.type] || n.type} · ${formatDateTime(n.created_at)}` })),
            ),
          ),
        ),
      );
    }
  }

  await load();
  // Le compte de la cloche change : la liste des non lues suit.
  const unsubscribe = onBellChange(async (unreadCount) => {
    const value = stats.querySelector('[data-testid="stat-unread-value"]');
    if (value) {
      value.textContent = formatNumber(unreadCount);
      value.closest(".stat").classList.toggle("stat--info", unreadCount > 0);
    }
    try {
      const list = await api.get("/api/notifications/", { query: { unread: "true", page_size: 5 }, signal });
      if (!signal.aborted) renderAlerts({ value: list });
    } catch {
      /* on garde l'affichage */
    }
  });
  return unsubscribe;
}

function messageOf(error) {
  return error instanceof ApiError ? error.french() : "Chargement impossible.";
}
