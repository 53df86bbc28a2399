// Fiche pièce : détails, niveau actuel et par emplacement, historique de
// ses mouvements.

import { api, request } from "../api.js";
import { h, icon, replace, formatNumber, formatDateTime, formatPrice, formatSigned, loading, emptyState, loadError } from "../dom.js";
import { pageHeader, dataTable, pagination, statusBadge, movementBadge, movementPlace, confirmDialog, toast } from "../ui.js";
import { may } from "../session.js";
import { movementForm } from "../movement-form.js";
import { purchasingCard } from "../offers.js";
import { showAudit } from "../audit.js";
import { REASONS } from "../labels.js";
import { ApiError } from "../errors.js";

export const name = "piece";
export const title = () => "Fiche pièce";

const PAGE_SIZE = 10;

export async function render({ container, params, signal, navigate, setTitle }) {
  const id = Number(params[0]);
  container.append(loading("Chargement de la pièce…"));

  let piece;
  let etag;
  try {
    const { data, response } = await request("GET", `/api/pieces/${id}/`, { signal });
    piece = data;
    etag = response.headers.get("ETag");
  } catch (error) {
    if (error?.name === "AbortError") return;
    replace(
      container,
      pageHeader("Fiche pièce", { back: { href: "#/pieces", label: "Retour aux pièces" } }),
      loadError(error instanceof ApiError ? error.french({ notFound: "Cette pièce n’existe pas (ou plus)." }) : "Chargement impossible.", () => navigate(`/pieces/${id}`)),
    );
    return;
  }
  setTitle(`${piece.reference} — ${piece.name}`);

  const actions = [followButton(id, signal), h("a", { class: "btn", href: `#/etiquettes?pieces=${id}`, dataset: { testid: "piece-label" } }, h("span", { text: "Étiquette" }))];
  if (may.editCatalogue()) {
    actions.push(h("a", { class: "btn", href: `#/pieces/${id}/modifier`, dataset: { testid: "edit-piece" } }, icon("edit"), h("span", { text: "Modifier" })));
    if (!piece.archived) {
      const archiveBtn = h("button", { type: "button", class: "btn btn--danger-ghost", dataset: { testid: "archive-piece" } }, icon("archive"), h("span", { text: "Archiver" }));
      archiveBtn.addEventListener("click", () => archive());
      actions.push(archiveBtn);
    }
  }

  const subtitle = h("span", { class: "subtitle-line" }, piece.name, piece.archived ? h("span", { class: "tag tag--warning", dataset: { testid: "archived-tag" }, text: "Archivée" }) : null);
  const levelBox = h("div", { class: "card__body" }, loading());
  const historyBox = h("div", { class: "results" }, loading());
  const auditBox = h("div", { class: "card__body" });
  showAudit(auditBox, "/api/pieces/audit/", { piece_id: id }, "user", signal);

  const details = h(
    "dl",
    { class: "details" },
    detail("Référence", h("span", { class: "ref", text: piece.reference })),
    detail("Nom", piece.name),
    detail("Catégorie", piece.category),
    detail("Emplacement", piece.location),
    detail("Unité", piece.unit),
    detail("Prix unitaire", formatPrice(piece.price)),
    detail("Seuil minimum", `${formatNumber(piece.min_stock)} ${piece.unit}`),
    detail("Code-barres", piece.barcode),
    detail("Description", piece.description, true),
    detail("Créée", `${formatDateTime(piece.created_at)} par ${piece.created_by || "—"}`),
    detail("Modifiée", `${formatDateTime(piece.updated_at)} (version ${piece.version})`),
  );

  const sections = [
    h(
      "section",
      { class: "card", "aria-labelledby": "niveau-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "niveau-titre", text: "Niveau actuel" })),
      levelBox,
    ),
  ];
  let form = null;
  if (may.recordMovement() && !piece.archived) {
    form = movementForm({ piece, signal, onRecorded: () => Promise.all([loadLevel(), loadHistory()]) });
    sections.push(
      h(
        "section",
        { class: "card", "aria-labelledby": "mvt-titre", id: "mouvement" },
        h("div", { class: "card__header" }, h("h2", { id: "mvt-titre", text: "Nouveau mouvement" })),
        h("div", { class: "card__body" }, form.element),
      ),
    );
  }

  replace(
    container,
    pageHeader(`${piece.reference}`, { subtitle, actions, back: { href: "#/pieces", label: "Retour aux pièces" } }),
    h(
      "div",
      { class: "split split--piece" },
      h(
        "div",
        { class: "split__main stack" },
        h("section", { class: "card", "aria-labelledby": "details-titre" }, h("div", { class: "card__header" }, h("h2", { id: "details-titre", text: "Détails" })), h("div", { class: "card__body" }, details)),
        purchasingCard({ piece, signal }),
        h("section", { class: "card", "aria-labelledby": "journal-titre" }, h("div", { class: "card__header" }, h("h2", { id: "journal-titre", text: "Journal des modifications" })), auditBox),
        h(
          "section",
          { class: "card card--flush", "aria-labelledby": "historique-titre" },
          h("div", { class: "card__header" }, h("h2", { id: "historique-titre", text: "Mouvements de la pièce" }), h("a", { class: "card__link", href: `#/historique?piece_id=${id}`, text: "Filtrer l’historique" })),
          historyBox,
        ),
      ),
      h("div", { class: "split__aside stack" }, sections),
    ),
  );

  async function loadLevel() {
    try {
      const level = await api.get(`/api/stock/${id}/`, { signal });
      replace(
        levelBox,
        h(
          "div",
          { class: ["level", `level--${level.status}`], dataset: { testid: "piece-level" } },
          h("p", { class: "level__value" }, h("span", { dataset: { testid: "piece-level-value" }, text: formatNumber(level.quantity) }), h("span", { class: "level__unit", text: ` ${piece.unit}` })),
          statusBadge(level.status),
          h("p", { class: "muted small", text: `Seuil minimum : ${formatNumber(level.min_stock)} · ${level.updated_at ? `dernier mouvement le ${formatDateTime(level.updated_at)}` : "aucun mouvement"}` }),
          level.locations.length
            ? h(
                "ul",
                { class: "places", "aria-label": "Quantité par emplacement", dataset: { testid: "piece-places" } },
                level.locations.map((at) =>
                  h(
                    "li",
                    { dataset: { testid: "piece-place", code: at.code } },
                    h("a", { href: `#/stock?location=${at.location_id}`, text: `${at.code} — ${at.name}` }),
                    h("strong", { class: "qty", dataset: { testid: "piece-place-quantity" }, text: `${formatNumber(at.quantity)} ${piece.unit}` }),
                  ),
                ),
              )
            : null,
        ),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      replace(levelBox, loadError(error instanceof ApiError ? error.french() : "Niveau indisponible.", loadLevel));
    }
  }

  let page = 1;
  async function loadHistory() {
    historyBox.setAttribute("aria-busy", "true");
    try {
      const data = await api.get("/api/stock/movements/", { query: { piece_id: id, page, page_size: PAGE_SIZE }, signal });
      if (data.results.length === 0) {
        replace(historyBox, emptyState("Aucun mouvement pour cette pièce.", { iconName: "history", testid: "piece-history-empty" }));
        return;
      }
      replace(
        historyBox,
        dataTable({
          caption: "Mouvements de la pièce",
          testid: "piece-history",
          rows: data.results,
          columns: [
            { label: "Date", className: "nowrap", cell: (m) => formatDateTime(m.created_at) },
            { label: "Type", cell: (m) => movementBadge(m.type) },
            { label: "Emplacement", cell: movementPlace },
            { label: "Variation", numeric: true, cell: (m) => h("span", { class: ["delta", m.delta > 0 ? "delta--up" : m.delta < 0 ? "delta--down" : ""], text: formatSigned(m.delta) }) },
            { label: "Niveau après", numeric: true, cell: (m) => formatNumber(m.level_after) },
            {
              label: "Motif et note",
              wide: true,
              cell: (m) =>
                m.reason || m.note
                  ? h("span", { class: "cell-stack" }, m.reason ? h("span", { text: REASONS[m.reason] || m.reason }) : null, m.note ? h("span", { class: "muted small", text: m.note }) : null)
                  : null,
            },
            { label: "Par", cell: (m) => m.user },
          ],
        }),
        pagination({
          page,
          pageSize: PAGE_SIZE,
          count: data.count,
          noun: ["mouvement", "mouvements"],
          onChange: (n) => {
            page = n;
            loadHistory();
          },
        }),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 404 && page > 1) {
        page = 1;
        loadHistory();
        return;
      }
      replace(historyBox, h("div", { class: "card__body" }, loadError(error instanceof ApiError ? error.french() : "Historique indisponible.", loadHistory)));
    } finally {
      historyBox.removeAttribute("aria-busy");
    }
  }

  async function archive() {
    const ok = await confirmDialog({
      title: `Archiver ${piece.reference} ?`,
      message: "Une pièce archivée reste dans l’historique mais n’accepte plus de mouvement. Si elle n’a jamais eu de stock ni de mouvement, elle est supprimée.",
      confirmLabel: "Archiver",
      danger: true,
    });
    if (!ok) return;
    try {
      const { response } = await api.delete(`/api/pieces/${id}/`, { headers: etag ? { "If-Match": etag } : {} });
      if (response.status === 204) {
        toast(`Pièce ${piece.reference} supprimée (elle n’avait jamais servi).`);
        navigate("/pieces");
      } else {
        toast(`Pièce ${piece.reference} archivée.`);
        navigate(`/pieces/${id}`);
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      toast(error.french({ notFound: "Cette pièce n’existe plus." }), "error");
    }
  }

  await Promise.all([loadLevel(), loadHistory()]);
}

function detail(label, value, wide = false) {
  const empty = value === null || value === undefined || value === "";
  return h("div", { class: ["details__item", wide && "details__item--wide"] }, h("dt", { text: label }), h("dd", { class: empty ? "muted" : "" }, empty ? "—" : value));
}

/**
 * « Suivre » : les alertes de stock de la pièce parviennent à l'utilisateur
 * quel que soit son rôle. Un bouton bascule (aria-pressed), lu de ses
 * préférences.
 */
function followButton(id, signal) {
  const label = h("span", { text: "Suivre" });
  const btn = h("button", { type: "button", class: "btn", "aria-pressed": "false", disabled: true, dataset: { testid: "follow-piece" } }, icon("bell"), label);
  const show = (pieces) => {
    const following = pieces.includes(id);
    btn.setAttribute("aria-pressed", String(following));
    label.textContent = following ? "Suivie" : "Suivre";
    btn.title = following ? "Vous recevez les alertes de stock de cette pièce. Cliquer pour ne plus la suivre." : "Recevoir les alertes de stock de cette pièce, quel que soit votre rôle.";
    btn.disabled = false;
  };
  api
    .get("/api/notifications/preferences/", { signal })
    .then((prefs) => show(prefs.pieces))
    .catch(() => {});
  btn.addEventListener("click", async () => {
    const following = btn.getAttribute("aria-pressed") === "true";
    btn.disabled = true;
    try {
      const path = `/api/notifications/follows/pieces/${id}/`;
      const { data } = following ? await api.delete(path) : await api.put(path);
      show(data.pieces);
      toast(following ? "Vous ne suivez plus cette pièce." : "Vous suivez cette pièce : ses alertes vous parviendront.");
    } catch (error) {
      btn.disabled = false;
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  });
  return btn;
}
