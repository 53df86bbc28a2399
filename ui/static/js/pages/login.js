// Connexion.

import { login } from "../api.js";
import { h, field, input, messageArea, setBusy } from "../dom.js";
import { ApiError, waitText } from "../errors.js";

export const name = "connexion";
export const title = () => "Connexion";

const REASONS = {
  expiree: ["Votre session a expiré. Reconnectez-vous pour continuer.", "warning"],
  deconnexion: ["Vous êtes déconnecté. À bientôt !", "info"],
};

export async function render({ container, query, afterLogin }) {
  let countdown = null;

  const username = field({
    label: "Nom d’utilisateur",
    name: "username",
    required: true,
    control: input({ autocomplete: "username", autocapitalize: "none", spellcheck: "false", dataset: { testid: "login-username" } }),
  });
  const password = field({
    label: "Mot de passe",
    name: "password",
    required: true,
    control: input({ type: "password", autocomplete: "current-password", dataset: { testid: "login-password" } }),
  });
  const error = messageArea("login-error");
  error.classList.add("form-message--block");
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block", dataset: { testid: "login-submit" } }, h("span", { text: "Se connecter" }));

  const reason = REASONS[query.get("raison")];
  const notice = h("p", { class: ["notice", reason ? `notice--${reason[1]}` : "notice--empty"], role: "status", dataset: { testid: "login-notice" } }, reason ? reason[0] : "");

  const form = h("form", { class: "form", novalidate: true, dataset: { testid: "login-form" } }, username.wrapper, password.wrapper, error, submit);

  container.append(
    h(
      "div",
      { class: "login" },
      h(
        "div",
        { class: "login__card card" },
        h(
          "div",
          { class: "login__brand" },
          h("span", { class: "login__logo", "aria-hidden": "true" }),
          h("p", { class: "login__app", text: "Gestion de stock" }),
        ),
        h("h1", { class: "page-title", tabindex: "-1", text: "Connexion" }),
        notice,
        form,
      ),
      h("p", { class: "login__footer muted", text: "Pièces, niveaux de stock, mouvements et alertes de l’atelier." }),
    ),
  );

  function lockFor(seconds) {
    clearInterval(countdown);
    let left = Math.max(1, seconds ?? 30);
    const text = () => `Trop de tentatives de connexion. Réessayez ${waitText(left)}.`;
    submit.disabled = true;
    // Annoncé une fois (role="alert") ; le décompte visible ne se répète pas à voix haute.
    error.removeAttribute("aria-live");
    error.show(text(), "error");
    countdown = setInterval(() => {
      left -= 1;
      if (left > 0) {
        error.setAttribute("aria-live", "off");
        error.setAttribute("role", "status");
        error.textContent = text();
        return;
      }
      clearInterval(countdown);
      submit.disabled = false;
      error.setAttribute("aria-live", "polite");
      error.show("Vous pouvez réessayer maintenant.", "info");
    }, 1000);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    username.setError("");
    password.setError("");
    error.clear();
    const user = username.control.value.trim();
    const pass = password.control.value;
    let invalid = false;
    if (!user) {
      username.setError("Saisissez votre nom d’utilisateur.");
      invalid = true;
    }
    if (!pass) {
      password.setError("Saisissez votre mot de passe.");
      invalid = true;
    }
    if (invalid) {
      (user ? password : username).control.focus();
      return;
    }
    setBusy(submit, true, "Connexion…");
    try {
      const account = await login(user, pass);
      afterLogin(account, query);
    } catch (failure) {
      setBusy(submit, false);
      if (failure instanceof ApiError && failure.status === 429) {
        lockFor(failure.retryAfter);
        return;
      }
      if (failure instanceof ApiError && failure.status === 400) {
        error.show("Saisissez un nom d’utilisateur et un mot de passe valides.", "error");
      } else {
        error.show(failure instanceof ApiError ? failure.french({ login: true }) : "La connexion a échoué.", "error");
      }
      password.control.value = "";
      password.control.focus();
    }
  });

  // Focus sur le premier champ (le titre reste annoncé par la région status).
  setTimeout(() => username.control.focus(), 0);
  return () => clearInterval(countdown);
}
