// Scanner : un champ qui prend ce que tape un lecteur de codes (ou la
// caméra du téléphone), puis Entrée. Une étiquette d'emplacement
// (« EMPL:CODE ») choisit l'emplacement ; un code-barres ou une référence
// trouve la pièce, et la quantité prend le relais (Entrée enregistre).
// « Aussitôt » enregistre chaque lecture pour 1, sans toucher la souris :
// les lectures s'enchaînent dans l'ordre, chacune avec son Idempotency-Key.

import { api } from "../api.js";
import { h, replace, field, input, select, setOptions, formatNumber, uuid, button, icon } from "../dom.js";
import { pageHeader } from "../ui.js";
import { may } from "../session.js";
import { ApiError } from "../errors.js";
import { DEFAULT_LOCATION, loadLocations, locationOptions } from "../locations.js";
import { findPiece, LOCATION_PREFIX } from "../scan.js";
import { startCamera } from "../camera.js";
import { refreshBellSoon } from "../bell.js";

export const name = "scanner";
export const title = () => "Scanner";

const MODES = [
  ["OUT", "Sortie"],
  ["IN", "Entrée"],
  ["TRANSFER", "Transfert"],
];

export async function render({ container, signal }) {
  container.append(pageHeader("Scanner", { subtitle: "Lisez une étiquette avec le lecteur ou la caméra : la pièce, puis la quantité, puis Entrée." }));
  let locations = [];
  let current = null; // la pièce lue
  let queue = Promise.resolve();

  const modeName = `mode-${Math.random().toString(36).slice(2, 8)}`;
  const modeInputs = MODES.map(([value, label], index) => {
    const radio = h("input", { type: "radio", name: modeName, id: `${modeName}-${value}`, value, checked: index === 0, dataset: { testid: `scan-mode-${value}` } });
    radio.addEventListener("change", () => {
      to.wrapper.hidden = mode() !== "TRANSFER";
      code.control.focus();
    });
    return h("span", { class: "segmented__option" }, radio, h("label", { for: radio.id, text: label }));
  });
  const mode = () => modeInputs.map((item) => item.querySelector("input")).find((radio) => radio.checked)?.value || "OUT";
  const place = field({ label: "Emplacement", name: "location_id", control: select([["", "Chargement…"]], { dataset: { testid: "scan-location" } }) });
  const to = field({ label: "Vers", name: "to_location_id", control: select([["", "Chargement…"]], { dataset: { testid: "scan-to-location" } }) });
  to.wrapper.hidden = true;
  const code = field({
    label: "Code lu",
    name: "code",
    hint: "Code-barres, référence, ou étiquette d’emplacement ; Entrée.",
    control: input({ autocomplete: "off", autocapitalize: "characters", spellcheck: "false", enterkeyhint: "search", class: "input input--large", dataset: { testid: "scan-input" } }),
  });
  const quantity = field({ label: "Quantité", name: "quantity", control: input({ type: "number", min: 1, step: 1, value: 1, inputmode: "numeric", class: "input input--large", dataset: { testid: "scan-quantity" } }) });
  const auto = h("input", { type: "checkbox", id: `${modeName}-auto`, dataset: { testid: "scan-auto" } });
  const found = h("div", { class: "scan-piece", dataset: { testid: "scan-piece" }, "aria-live": "polite" });
  const log = h("ol", { class: "scan-log", dataset: { testid: "scan-log" }, "aria-live": "polite", reversed: true });
  const cameraBox = h("div", { class: "scan-camera", hidden: true });
  const cameraMessage = h("p", { class: "field__error", dataset: { testid: "scan-camera-message" }, role: "status" });
  let camera = null;
  const cameraButton = button("Caméra", { class: "btn", dataset: { testid: "scan-camera" }, on: { click: () => toggleCamera() } }, "search");

  container.append(
    h(
      "section",
      { class: "card scan", "aria-label": "Lecture" },
      h(
        "div",
        { class: "card__body stack" },
        h("fieldset", { class: "field segmented-field" }, h("legend", { class: "field__label", text: "Mouvement" }), h("div", { class: "segmented" }, modeInputs)),
        h("div", { class: "form-grid" }, place.wrapper, to.wrapper),
        code.wrapper,
        h("p", { class: "check" }, auto, h("label", { for: auto.id, text: "Enregistrer aussitôt chaque lecture (quantité 1)" })),
        h("div", { class: "scan-actions" }, cameraButton),
        cameraMessage,
        cameraBox,
        found,
      ),
    ),
    h("section", { class: "card", "aria-labelledby": "lectures-titre" }, h("div", { class: "card__header" }, h("h2", { id: "lectures-titre", text: "Dernières lectures" })), h("div", { class: "card__body" }, log)),
  );

  loadLocations(signal)
    .then((list) => {
      locations = list;
      setOptions(place.control, locationOptions(list), DEFAULT_LOCATION);
      setOptions(to.control, locationOptions(list), list.find((l) => l.id !== DEFAULT_LOCATION)?.id ?? DEFAULT_LOCATION);
    })
    .catch(() => setOptions(place.control, [[DEFAULT_LOCATION, "Emplacement par défaut"]]));

  code.control.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const text = code.control.value.trim();
    code.control.value = "";
    if (text) read(text);
  });
  quantity.control.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const amount = Number(quantity.control.value);
    if (!current) return code.control.focus();
    if (!Number.isInteger(amount) || amount < 1) {
      quantity.setError("Une quantité entière, au moins 1.");
      return;
    }
    quantity.setError("");
    const piece = current;
    enqueue(() => record(piece, amount));
    code.control.focus();
  });

  /** Les lectures passent dans l'ordre, l'une après l'autre. */
  function enqueue(work) {
    queue = queue.then(work).catch(() => {});
  }

  function read(text) {
    code.setError("");
    if (text.toUpperCase().startsWith(LOCATION_PREFIX)) {
      const wanted = text.slice(LOCATION_PREFIX.length).toUpperCase();
      const location = locations.find((l) => l.code.toUpperCase() === wanted);
      if (!location) return code.setError(`Emplacement inconnu : ${wanted}.`);
      const target = mode() === "TRANSFER" && current ? to : place;
      target.control.value = String(location.id);
      entry(`Emplacement ${location.code}`, "info");
      return;
    }
    enqueue(async () => {
      let piece;
      try {
        piece = await findPiece(text, signal);
      } catch (error) {
        if (error?.name !== "AbortError") code.setError(error instanceof ApiError ? error.french() : "Recherche impossible.");
        return;
      }
      if (!piece) return unknown(text);
      current = piece;
      await show(piece);
      if (auto.checked) await record(piece, 1);
      else {
        quantity.control.value = "1";
        quantity.control.focus();
        quantity.control.select();
      }
    });
  }

  function unknown(text) {
    current = null;
    code.setError(`Code inconnu : ${text}.`);
    replace(
      found,
      h("p", { class: "notice notice--warning", dataset: { testid: "scan-unknown" } }, `Aucune pièce n’a le code « ${text} ». `, may.editCatalogue() ? h("a", { href: `#/pieces/nouvelle?code=${encodeURIComponent(text)}`, dataset: { testid: "scan-create" }, text: "Créer la pièce" }) : null),
    );
    entry(`${text} : inconnu`, "error");
  }

  async function show(piece) {
    let level = null;
    try {
      level = await api.get(`/api/stock/${piece.id}/`, { signal });
    } catch {
      /* la pièce s'affiche sans niveau */
    }
    replace(
      found,
      h(
        "div",
        { class: "scan-piece__card", dataset: { pieceId: piece.id } },
        h("p", {}, h("a", { class: "ref", href: `#/pieces/${piece.id}`, text: piece.reference }), ` ${piece.name}`),
        level ? h("p", { class: "scan-piece__level" }, h("strong", { dataset: { testid: "scan-level" }, text: formatNumber(level.quantity) }), ` ${piece.unit} en stock`) : null,
        level?.locations?.length ? h("ul", { class: "places" }, level.locations.map((at) => h("li", {}, h("span", { text: `${at.code} — ${at.name}` }), h("strong", { class: "qty", text: formatNumber(at.quantity) })))) : null,
        auto.checked ? null : quantity.wrapper,
      ),
    );
  }

  async function record(piece, amount) {
    const type = mode();
    const body = { piece_id: piece.id, type, quantity: amount };
    if (type === "TRANSFER") {
      body.from_location_id = Number(place.control.value);
      body.to_location_id = Number(to.control.value);
    } else {
      body.location_id = Number(place.control.value || DEFAULT_LOCATION);
    }
    try {
      const { data } = await api.post("/api/stock/movement/", body, { headers: { "Idempotency-Key": uuid() }, signal });
      const verb = { IN: "Entrée", OUT: "Sortie", TRANSFER: "Transfert" }[type];
      entry(`${verb} ${formatNumber(amount)} × ${piece.reference} : niveau ${formatNumber(data.level_after)}`, "success");
      refreshBellSoon();
      if (current?.id === piece.id) await show(piece);
    } catch (error) {
      if (error?.name === "AbortError") return;
      entry(`${piece.reference} : ${error instanceof ApiError ? error.french() : "mouvement impossible"}`, "error");
    }
  }

  function entry(text, kind) {
    log.prepend(h("li", { class: `scan-log__item scan-log__item--${kind}`, dataset: { testid: "scan-entry", kind } }, icon(kind === "error" ? "alert" : "check"), h("span", { text })));
    while (log.children.length > 30) log.lastChild.remove();
  }

  async function toggleCamera() {
    cameraMessage.textContent = "";
    if (camera) {
      camera.stop();
      camera = null;
      cameraBox.hidden = true;
      return;
    }
    try {
      camera = await startCamera(cameraBox, (text) => read(text), signal);
      cameraBox.hidden = false;
    } catch (error) {
      cameraMessage.textContent = error.message;
    }
  }

  signal.addEventListener("abort", () => camera?.stop());
  code.control.focus();
}
