// Mon compte : identité, rôle, changement de mot de passe.

import { api } from "../api.js";
import { h, field, input, messageArea, setBusy, formatDateTime } from "../dom.js";
import { pageHeader } from "../ui.js";
import { session } from "../session.js";
import { ROLE_LABELS, ROLE_DESCRIPTIONS } from "../labels.js";
import { ApiError, fieldMessages } from "../errors.js";

export const name = "compte";
export const title = () => "Mon compte";

const MIN_PASSWORD = 10;

export async function render({ container, signal }) {
  const user = session.user;
  container.append(pageHeader("Mon compte", { subtitle: `Connecté en tant que ${user.username}.` }));

  let me = user;
  try {
    me = await api.get("/api/auth/me/", { signal });
  } catch (error) {
    if (error?.name === "AbortError") return;
  }

  const profile = h(
    "dl",
    { class: "details" },
    item("Nom d’utilisateur", me.username),
    item("Rôle", `${ROLE_LABELS[me.role] || me.role} — ${ROLE_DESCRIPTIONS[me.role] || ""}`),
    item("Compte créé le", formatDateTime(me.date_joined)),
    item("Dernière connexion", me.last_login ? formatDateTime(me.last_login) : "—"),
  );

  const current = field({ label: "Mot de passe actuel", name: "old_password", required: true, control: input({ type: "password", autocomplete: "current-password" }) });
  const next = field({ label: "Nouveau mot de passe", name: "new_password", required: true, hint: `${MIN_PASSWORD} caractères au moins.`, control: input({ type: "password", autocomplete: "new-password" }) });
  const confirm = field({ label: "Confirmer le nouveau mot de passe", name: "confirm", required: true, control: input({ type: "password", autocomplete: "new-password" }) });
  const message = messageArea("password-message");
  const submit = h("button", { type: "submit", class: "btn btn--primary" }, h("span", { text: "Changer le mot de passe" }));
  const form = h("form", { class: "form", novalidate: true, dataset: { testid: "password-form" } }, current.wrapper, next.wrapper, confirm.wrapper, message, h("div", { class: "form__actions" }, submit));

  container.append(
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "profil-titre" }, h("div", { class: "card__header" }, h("h2", { id: "profil-titre", text: "Profil" })), h("div", { class: "card__body" }, profile)),
      h("section", { class: "card", "aria-labelledby": "mdp-titre" }, h("div", { class: "card__header" }, h("h2", { id: "mdp-titre", text: "Mot de passe" })), h("div", { class: "card__body" }, form)),
    ),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of [current, next, confirm]) f.setError("");
    message.clear();
    let invalid = false;
    if (!current.control.value) {
      current.setError("Saisissez votre mot de passe actuel.");
      invalid = true;
    }
    if ([...next.control.value].length < MIN_PASSWORD) {
      next.setError(`Le mot de passe doit contenir au moins ${MIN_PASSWORD} caractères.`);
      invalid = true;
    } else if (next.control.value !== confirm.control.value) {
      confirm.setError("Les deux mots de passe diffèrent.");
      invalid = true;
    }
    if (invalid) {
      form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    setBusy(submit, true, "Enregistrement…");
    try {
      await api.post("/api/auth/password/", { old_password: current.control.value, new_password: next.control.value });
      message.show("Mot de passe changé. Vos autres sessions ont été fermées.", "success");
      form.reset();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const fields = fieldMessages(error);
      if (fields.old_password) current.setError("Mot de passe actuel incorrect.");
      if (fields.new_password) next.setError(fields.new_password);
      message.show(fields.old_password ? "Le mot de passe actuel est incorrect." : error.french(), "error");
    } finally {
      setBusy(submit, false);
    }
  });
}

function item(label, value) {
  return h("div", { class: "details__item" }, h("dt", { text: label }), h("dd", { text: value }));
}
