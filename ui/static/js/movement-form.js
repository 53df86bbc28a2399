// Formulaire de mouvement de stock : ENTRÉE, SORTIE, TRANSFERT entre deux
// emplacements, AJUSTEMENT ; chacun à un emplacement (par défaut celui où
// allaient les mouvements avant les emplacements).
//
// Chaque mouvement envoyé porte un Idempotency-Key : la même clé est
// renvoyée tant que la saisie n'a pas changé et que la réponse n'est pas
// arrivée (réseau coupé, double clic) ; le service ne compte donc jamais
// deux fois le même mouvement.

import { api } from "./api.js";
import { h, field, input, select, setOptions, messageArea, setBusy, formatNumber, plural, debounce, uuid } from "./dom.js";
import { REASONS, MOVEMENT_TYPES, STATUS_LABELS } from "./labels.js";
import { ApiError, fieldMessages } from "./errors.js";
import { may } from "./session.js";
import { refreshBellSoon } from "./bell.js";
import { DEFAULT_LOCATION, loadLocations, locationOptions } from "./locations.js";

const REASON_CHOICES = ["reception", "consumption", "return", "inventory", "damaged", "lost", "found", "correction", "other"];

/**
 * options : { piece: {id, reference, name, unit} fixe (fiche pièce) ou null,
 *             onRecorded(movement), signal }
 * Rend { element, selectPiece(id) }.
 */
export function movementForm({ piece = null, onRecorded = () => {}, signal } = {}) {
  let idempotencyKey = null;
  let pieces = piece ? [piece] : [];
  const types = may.adjust() ? ["IN", "OUT", "TRANSFER", "ADJUST"] : ["IN", "OUT", "TRANSFER"];

  // --- Pièce -----------------------------------------------------------------------
  let pieceSearch = null;
  let pieceSelect = null;
  if (!piece) {
    pieceSearch = field({
      label: "Rechercher une pièce",
      name: "piece_search",
      control: input({ type: "search", autocomplete: "off", placeholder: "Référence ou nom", dataset: { testid: "movement-piece-search" } }),
    });
    pieceSelect = field({
      label: "Pièce",
      name: "piece_id",
      required: true,
      control: select([["", "Chargement des pièces…"]], { dataset: { testid: "movement-piece" } }),
    });
  }

  // --- Type : boutons radio ------------------------------------------------------
  const typeName = `type-${Math.random().toString(36).slice(2, 8)}`;
  const typeInputs = {};
  const typeError = h("p", { class: "field__error", id: `${typeName}-erreur` });
  const typeFieldset = h(
    "fieldset",
    { class: "field segmented-field", "aria-describedby": typeError.id },
    h("legend", { class: "field__label", text: "Type de mouvement" }),
    h(
      "div",
      { class: "segmented" },
      types.map((type, index) => {
        const id = `${typeName}-${type}`;
        const radio = h("input", { type: "radio", name: typeName, id, value: type, checked: index === 0, dataset: { testid: `movement-type-${type}` } });
        typeInputs[type] = radio;
        return h("span", { class: "segmented__option" }, radio, h("label", { for: id, text: MOVEMENT_TYPES[type] }));
      }),
    ),
    typeError,
  );

  const placeField = (label, name, testid) =>
    field({ label, name, required: true, control: select([[DEFAULT_LOCATION, "Emplacement par défaut"]], { dataset: { testid } }) });
  const location = placeField("Emplacement", "location_id", "movement-location");
  const from = placeField("Depuis", "from_location_id", "movement-from");
  const to = placeField("Vers", "to_location_id", "movement-to");
  const places = [location, from, to];

  const quantity = field({
    label: "Quantité",
    name: "quantity",
    required: true,
    control: input({ type: "number", min: 1, step: 1, inputmode: "numeric", dataset: { testid: "movement-quantity" } }),
  });
  const reason = field({
    label: "Motif",
    name: "reason",
    control: select([["", "— Aucun —"], ...REASON_CHOICES.map((r) => [r, REASONS[r]])], { dataset: { testid: "movement-reason" } }),
  });
  const note = field({
    label: "Note",
    name: "note",
    hint: "Facultative : bon de livraison, atelier, chantier…",
    control: input({ maxlength: 1000, autocomplete: "off", dataset: { testid: "movement-note" } }),
  });

  const level = h("p", { class: "level-hint", "aria-live": "polite", dataset: { testid: "movement-level" } });
  const message = messageArea("movement-message");
  message.classList.add("form-message--block");
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "movement-submit" } }, h("span", { text: "Enregistrer le mouvement" }));

  const form = h(
    "form",
    { class: "form movement-form", novalidate: true, dataset: { testid: "movement-form" } },
    pieceSearch?.wrapper,
    pieceSelect?.wrapper,
    level,
    typeFieldset,
    location.wrapper,
    h("div", { class: "form-grid form-grid--2", dataset: { testid: "movement-transfer-places" } }, from.wrapper, to.wrapper),
    h("div", { class: "form-grid form-grid--2" }, quantity.wrapper, reason.wrapper),
    note.wrapper,
    message,
    submit,
  );

  const currentType = () => types.find((t) => typeInputs[t].checked) || "IN";
  const currentPieceId = () => (piece ? piece.id : Number(pieceSelect.control.value) || null);
  const currentPiece = () => pieces.find((p) => p.id === currentPieceId()) || null;

  function updateTypeUi() {
    const type = currentType();
    location.wrapper.hidden = type === "TRANSFER";
    from.wrapper.parentElement.hidden = type !== "TRANSFER";
    if (type === "ADJUST") {
      quantity.label.firstChild.textContent = "Niveau compté";
      quantity.control.min = "0";
      reason.label.firstChild.textContent = "Motif";
      reason.control.required = true;
      reason.label.querySelector(".field__required") || reason.label.append(h("span", { class: "field__required", "aria-hidden": "true", text: " *" }));
      if (!reason.control.value) reason.control.value = "inventory";
    } else {
      quantity.label.firstChild.textContent = type === "TRANSFER" ? "Quantité à transférer" : "Quantité";
      quantity.control.min = "1";
      reason.control.required = false;
      reason.label.querySelector(".field__required")?.remove();
    }
    submit.querySelector("span").textContent = {
      IN: "Enregistrer l’entrée",
      OUT: "Enregistrer la sortie",
      TRANSFER: "Enregistrer le transfert",
      ADJUST: "Enregistrer l’ajustement",
    }[type];
  }

  let levelRequest = 0;
  async function showLevel() {
    const id = currentPieceId();
    const mine = ++levelRequest;
    if (!id) {
      level.textContent = "";
      return;
    }
    try {
      const data = await api.get(`/api/stock/${id}/`, { signal });
      if (mine !== levelRequest) return;
      const unit = currentPiece()?.unit || "";
      const held = data.locations.map((at) => `${at.code} ${formatNumber(at.quantity)}`).join(" · ");
      level.replaceChildren(
        "Niveau actuel : ",
        h("strong", { dataset: { testid: "movement-level-value" }, text: `${formatNumber(data.quantity)} ${unit}`.trim() }),
        ` · seuil ${formatNumber(data.min_stock)} · `,
        h("span", { class: ["status-text", `status-text--${data.status}`], text: STATUS_LABELS[data.status] || data.status }),
        held ? h("span", { class: "level-hint__places", dataset: { testid: "movement-level-places" }, text: `Par emplacement : ${held}` }) : null,
      );
    } catch {
      if (mine === levelRequest) level.textContent = "";
    }
  }

  async function loadPlaces() {
    try {
      const options = locationOptions(await loadLocations(signal));
      for (const place of places) setOptions(place.control, options, place.control.value || DEFAULT_LOCATION);
    } catch (error) {
      if (error?.name !== "AbortError") message.show("Liste des emplacements indisponible : l’emplacement par défaut reste proposé.", "error");
    }
  }

  async function loadPieces(search = "", keepId = null) {
    if (!pieceSelect) return;
    try {
      const page = await api.get("/api/pieces/", { query: { search, archived: "false", ordering: "reference", page_size: 50 }, signal });
      pieces = page.results;
      const wanted = keepId ?? currentPieceId();
      if (wanted && !pieces.some((p) => p.id === wanted)) {
        try {
          const extra = await api.get(`/api/pieces/${wanted}/`, { signal });
          if (!extra.archived) pieces.unshift(extra);
        } catch {
          /* pièce disparue */
        }
      }
      const options = pieces.length
        ? [["", "— Choisir une pièce —"], ...pieces.map((p) => [p.id, `${p.reference} — ${p.name}`])]
        : [["", search ? "Aucune pièce ne correspond" : "Aucune pièce active dans le catalogue"]];
      if (page.count > pieces.length && !search) options.push(["", `… ${plural(page.count - pieces.length, "autre pièce", "autres pièces")} : affinez la recherche`]);
      setOptions(pieceSelect.control, options, wanted && pieces.some((p) => p.id === wanted) ? wanted : pieces.length === 1 && search ? pieces[0].id : "");
      // Le dernier intitulé « … autres pièces » ne doit pas être choisi.
      const last = pieceSelect.control.options[pieceSelect.control.options.length - 1];
      if (last && last.value === "" && last.index > 0) last.disabled = true;
      showLevel();
    } catch (error) {
      if (error?.name === "AbortError") return;
      setOptions(pieceSelect.control, [["", "Liste des pièces indisponible"]]);
    }
  }

  function resetKey() {
    idempotencyKey = null;
  }

  // Toute modification de la saisie en fait un nouveau mouvement.
  form.addEventListener("input", resetKey);
  form.addEventListener("change", resetKey);
  for (const radio of Object.values(typeInputs)) radio.addEventListener("change", updateTypeUi);
  if (pieceSelect) {
    pieceSelect.control.addEventListener("change", showLevel);
    pieceSearch.control.addEventListener("input", debounce(() => loadPieces(pieceSearch.control.value.trim()), 250));
    // Entrée dans la recherche ne soumet pas le formulaire : elle va à la liste.
    pieceSearch.control.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        pieceSelect.control.focus();
      }
    });
  }

  function clearErrors() {
    for (const f of [pieceSelect, quantity, reason, note, ...places]) f?.setError("");
    typeError.textContent = "";
    message.clear();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    clearErrors();
    const type = currentType();
    const pieceId = currentPieceId();
    const raw = quantity.control.value.trim();
    const errors = {};
    if (!pieceId) errors.piece_id = "Choisissez une pièce.";
    if (!/^\d+$/.test(raw)) errors.quantity = type === "ADJUST" ? "Saisissez le niveau compté (entier positif ou nul)." : "Saisissez une quantité entière.";
    else if (type !== "ADJUST" && Number(raw) < 1) errors.quantity = "La quantité doit être au moins 1.";
    if (type === "ADJUST" && !reason.control.value) errors.reason = "Un ajustement exige un motif.";
    if (type === "TRANSFER" && from.control.value === to.control.value) errors.to_location_id = "Choisissez un autre emplacement que celui de départ.";
    if (Object.keys(errors).length) {
      showErrors(errors);
      message.show("Corrigez les champs signalés.", "error");
      return;
    }
    const body = { piece_id: pieceId, type, quantity: Number(raw) };
    if (type === "TRANSFER") {
      body.from_location_id = Number(from.control.value);
      body.to_location_id = Number(to.control.value);
    } else {
      body.location_id = Number(location.control.value);
    }
    if (reason.control.value) body.reason = reason.control.value;
    if (note.control.value.trim()) body.note = note.control.value.trim();
    idempotencyKey ??= uuid();
    setBusy(submit, true, "Enregistrement…");
    try {
      const { data, response } = await api.post("/api/stock/movement/", body, { headers: { "Idempotency-Key": idempotencyKey }, signal });
      resetKey();
      const replayed = response.headers.get("Idempotent-Replayed") === "true";
      const unit = currentPiece()?.unit || piece?.unit || "";
      const what = {
        IN: `Entrée de ${formatNumber(data.quantity)} enregistrée`,
        OUT: `Sortie de ${formatNumber(data.quantity)} enregistrée`,
        TRANSFER: `Transfert de ${formatNumber(data.quantity)} enregistré`,
        ADJUST: `Ajustement à ${formatNumber(data.quantity)} enregistré`,
      }[type];
      const where = type === "TRANSFER" ? `${data.location_code} → ${data.to_location_code}` : data.location_code;
      const text = `${what} pour ${data.reference} (${where}) : niveau ${formatNumber(data.level_after)} ${unit}`.trim() + ".";
      message.show(replayed ? `${text} (déjà enregistrée, non comptée deux fois)` : text, "success");
      quantity.control.value = "";
      note.control.value = "";
      if (type !== "ADJUST") reason.control.value = "";
      refreshBellSoon();
      showLevel();
      onRecorded(data);
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      // Réponse définitive (4xx) : la prochaine tentative est un nouveau
      // mouvement. Réseau ou 5xx : on garde la clé pour réessayer sans risque.
      if (error.status >= 400 && error.status < 500 && error.status !== 409) resetKey();
      if (error.status === 409) resetKey();
      message.show(error.french(), "error");
      showErrors(fieldMessages(error));
      if (typeof error.body.available === "number") showLevel();
    } finally {
      setBusy(submit, false);
      updateTypeUi();
    }
  });

  function showErrors(errors) {
    let first = null;
    const map = { piece_id: pieceSelect, quantity, reason, note, location_id: location, from_location_id: from, to_location_id: to };
    for (const [key, text] of Object.entries(errors)) {
      if (key === "type") {
        typeError.textContent = text;
        continue;
      }
      const target = map[key];
      if (target) {
        target.setError(text);
        first ??= target.control;
      }
    }
    first?.focus();
  }

  updateTypeUi();
  loadPlaces();
  if (piece) showLevel();
  else loadPieces();

  return {
    element: form,
    /** Présélectionne une pièce (depuis le tableau des niveaux). */
    async selectPiece(id) {
      if (!pieceSelect) return;
      if (!pieces.some((p) => p.id === id)) {
        pieceSearch.control.value = "";
        await loadPieces("", id);
      } else {
        pieceSelect.control.value = String(id);
        showLevel();
      }
      resetKey();
      quantity.control.focus();
    },
    refreshLevel: showLevel,
  };
}
