// Utilisateurs (administrateur) : créer, changer le rôle, désactiver,
// réactiver, nouveau mot de passe.

import { api } from "../api.js";
import { h, icon, replace, field, input, select, button, formatDateTime, loading, emptyState, messageArea, setBusy } from "../dom.js";
import { pageHeader, dataTable, pagination, pagedList, bindFilters, confirmDialog, formDialog, toast } from "../ui.js";
import { session } from "../session.js";
import { ROLES, ROLE_LABELS, ROLE_DESCRIPTIONS } from "../labels.js";
import { ApiError, fieldMessages } from "../errors.js";
import { showAudit } from "../audit.js";

export const name = "utilisateurs";
export const title = () => "Utilisateurs";

const PAGE_SIZE = 25;
const ROLE_OPTIONS = ROLES.map((role) => [role, ROLE_LABELS[role]]);
const MIN_PASSWORD = 10;

export async function render({ container, signal }) {
  const state = { search: "", role: "", active: "", page: 1 };
  container.append(pageHeader("Utilisateurs", { subtitle: "Comptes, rôles et accès à l’application." }));

  const layout = h("div", { class: "stack" });
  container.append(layout);

  // --- Création ---------------------------------------------------------------------
  const username = field({ label: "Nom d’utilisateur", name: "username", required: true, hint: "Lettres, chiffres et @ . + - _ (150 au plus).", control: input({ autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 150, dataset: { testid: "user-username" } }) });
  const password = field({ label: "Mot de passe", name: "password", required: true, hint: `${MIN_PASSWORD} caractères au moins. Communiquez-le à la personne de vive voix.`, control: input({ type: "password", autocomplete: "new-password", dataset: { testid: "user-password" } }) });
  const role = field({ label: "Rôle", name: "role", control: select(ROLE_OPTIONS, { value: "viewer", dataset: { testid: "user-role" } }) });
  const roleHint = h("p", { class: "field__hint", "aria-live": "polite" });
  const updateRoleHint = () => {
    roleHint.textContent = `${ROLE_LABELS[role.control.value]} : ${ROLE_DESCRIPTIONS[role.control.value]}.`;
  };
  role.wrapper.insertBefore(roleHint, role.error);
  role.control.addEventListener("change", updateRoleHint);
  updateRoleHint();
  const active = h("input", { type: "checkbox", id: "nouvel-actif", checked: true });
  const createMessage = messageArea("user-form-message");
  const createBtn = h("button", { type: "submit", class: "btn btn--primary", dataset: { testid: "user-submit" } }, icon("plus"), h("span", { text: "Créer le compte" }));
  const createForm = h(
    "form",
    { class: "form", novalidate: true, dataset: { testid: "user-form" } },
    h("div", { class: "form-grid form-grid--3" }, username.wrapper, password.wrapper, role.wrapper),
    h(
      "div",
      { class: "form__footer" },
      h("div", { class: "check" }, active, h("label", { for: "nouvel-actif", text: "Compte actif dès maintenant" })),
      createMessage,
      h("div", { class: "form__actions" }, createBtn),
    ),
  );
  layout.append(
    h("section", { class: "card", "aria-labelledby": "creer-titre" }, h("div", { class: "card__header" }, h("h2", { id: "creer-titre", text: "Nouveau compte" })), h("div", { class: "card__body" }, createForm)),
  );

  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of [username, password, role]) f.setError("");
    createMessage.clear();
    const body = { username: username.control.value.trim(), password: password.control.value, role: role.control.value, is_active: active.checked };
    let invalid = false;
    if (!body.username) {
      username.setError("Le nom d’utilisateur est obligatoire.");
      invalid = true;
    } else if (!/^[\p{L}\p{N}@.+\-_]{1,150}$/u.test(body.username)) {
      username.setError("Lettres, chiffres et @ . + - _ uniquement, sans espace.");
      invalid = true;
    }
    if ([...body.password].length < MIN_PASSWORD) {
      password.setError(`Le mot de passe doit contenir au moins ${MIN_PASSWORD} caractères.`);
      invalid = true;
    }
    if (invalid) {
      createForm.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    setBusy(createBtn, true, "Création…");
    try {
      const { data } = await api.post("/api/auth/users/", body);
      createMessage.show(`Compte « ${data.username} » créé (${ROLE_LABELS[data.role].toLowerCase()}).`, "success");
      username.control.value = "";
      password.control.value = "";
      role.control.value = "viewer";
      updateRoleHint();
      active.checked = true;
      load();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 409) {
        username.setError("Ce nom d’utilisateur est déjà pris.");
        createMessage.show("Ce nom d’utilisateur est déjà pris : choisissez-en un autre.", "error");
        username.control.focus();
      } else {
        createMessage.show(error.french(), "error");
        const fields = fieldMessages(error);
        if (fields.username) username.setError(fields.username);
        if (fields.password) password.setError(fields.password);
        if (fields.role) role.setError(fields.role);
      }
    } finally {
      setBusy(createBtn, false);
    }
  });

  // --- Liste ------------------------------------------------------------------------
  const search = field({ label: "Rechercher", name: "search", control: input({ type: "search", autocomplete: "off", placeholder: "Nom d’utilisateur" }) });
  const roleFilter = field({ label: "Rôle", name: "role_filter", control: select([["", "Tous"], ...ROLE_OPTIONS]) });
  const activeFilter = field({ label: "État", name: "active_filter", control: select([["", "Tous"], ["true", "Actifs"], ["false", "Désactivés"]]) });
  const results = h("div", { class: "results", dataset: { testid: "users-results" } }, loading("Chargement des comptes…"));
  layout.append(
    h(
      "section",
      { class: "card card--flush", "aria-labelledby": "comptes-titre" },
      h("div", { class: "card__header" }, h("h2", { id: "comptes-titre", text: "Comptes" })),
      h("div", { class: "card__body" }, h("form", { class: "filters", role: "search", "aria-label": "Filtrer les comptes", on: { submit: (e) => e.preventDefault() } }, search.wrapper, roleFilter.wrapper, activeFilter.wrapper)),
      results,
    ),
  );

  const { load, goToPage } = pagedList({
    results,
    state,
    fetchPage: () => api.get("/api/auth/users/", { query: { search: state.search, role: state.role, is_active: state.active, ordering: "username", page: state.page, page_size: PAGE_SIZE }, signal }),
    show: renderUsers,
  });

  function renderUsers(page) {
    if (page.results.length === 0) {
      replace(results, emptyState("Aucun compte ne correspond à ces critères.", { iconName: "users", testid: "users-empty" }));
      return;
    }
    replace(
      results,
      dataTable({
        caption: "Comptes utilisateurs",
        testid: "users-table",
        rows: page.results,
        rowAttrs: (u) => ({ class: u.is_active ? "" : "row--inactive", dataset: { testid: "user-row", username: u.username, userId: u.id } }),
        columns: [
          { label: "Nom", cell: (u) => h("span", { class: "cell-stack" }, h("span", { class: "cell-main" }, h("strong", { text: u.username }), u.id === session.user.id ? h("span", { class: "tag", text: "vous" }) : null), h("span", { class: "muted small", text: `créé le ${formatDateTime(u.date_joined)}` })) },
          { label: "Rôle", cell: (u) => roleCell(u) },
          { label: "État", cell: (u) => h("span", { class: ["tag", u.is_active ? "tag--ok" : "tag--muted"], text: u.is_active ? "Actif" : "Désactivé" }) },
          { label: "Dernière connexion", cell: (u) => (u.last_login ? formatDateTime(u.last_login) : "Jamais") },
          { label: "Actions", className: "actions-cell", cell: (u) => actionsCell(u) },
        ],
      }),
      pagination({
        page: state.page,
        pageSize: PAGE_SIZE,
        count: page.count,
        noun: ["compte", "comptes"],
        onChange: goToPage,
      }),
    );
  }

  function roleCell(user) {
    if (user.id === session.user.id) return ROLE_LABELS[user.role];
    const control = select(ROLE_OPTIONS, { value: user.role, class: "input input--compact", "aria-label": `Rôle de ${user.username}`, dataset: { testid: "user-row-role" } });
    control.addEventListener("change", async () => {
      const next = control.value;
      const ok = await confirmDialog({
        title: `Changer le rôle de ${user.username} ?`,
        message: `${ROLE_LABELS[user.role]} → ${ROLE_LABELS[next]} (${ROLE_DESCRIPTIONS[next]}). Le changement s’applique à sa prochaine connexion ou au renouvellement de sa session (5 minutes au plus).`,
        confirmLabel: "Changer le rôle",
      });
      if (!ok) {
        control.value = user.role;
        return;
      }
      control.disabled = true;
      try {
        const { data } = await api.patch(`/api/auth/users/${user.id}/`, { role: next });
        user.role = data.role;
        toast(`${user.username} est maintenant ${ROLE_LABELS[data.role].toLowerCase()}.`);
      } catch (error) {
        control.value = user.role;
        if (!(error instanceof ApiError)) throw error;
        toast(error.french(), "error");
      } finally {
        control.disabled = false;
      }
    });
    return control;
  }

  function actionsCell(user) {
    const self = user.id === session.user.id;
    const reset = button("Mot de passe", { class: "btn btn--small", "aria-label": `Nouveau mot de passe pour ${user.username}`, on: { click: () => resetPassword(user) } }, "key");
    const journal = button("Journal", { class: "btn btn--small", "aria-label": `Journal de ${user.username}`, dataset: { testid: "user-journal" }, on: { click: () => showJournal(user) } }, "history");
    if (self) return h("span", { class: "row-actions" }, h("a", { class: "btn btn--small", href: "#/compte" }, icon("key"), h("span", { text: "Mon mot de passe" })), journal);
    const toggle = user.is_active
      ? button("Désactiver", { class: "btn btn--small btn--danger-ghost", "aria-label": `Désactiver ${user.username}`, dataset: { testid: "deactivate-user" }, on: { click: (e) => deactivate(user, e.currentTarget) } })
      : button("Réactiver", { class: "btn btn--small", "aria-label": `Réactiver ${user.username}`, on: { click: (e) => reactivate(user, e.currentTarget) } });
    return h("span", { class: "row-actions" }, user.is_active ? reset : null, toggle, journal);
  }

  async function deactivate(user, btn) {
    const ok = await confirmDialog({
      title: `Désactiver ${user.username} ?`,
      message: "La personne ne pourra plus se connecter et ses sessions ouvertes sont fermées. Son historique est conservé ; le compte peut être réactivé.",
      confirmLabel: "Désactiver",
      danger: true,
    });
    if (!ok) return;
    setBusy(btn, true, "…");
    try {
      await api.delete(`/api/auth/users/${user.id}/`);
      toast(`Compte « ${user.username} » désactivé.`);
      load();
    } catch (error) {
      setBusy(btn, false);
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  async function reactivate(user, btn) {
    setBusy(btn, true, "…");
    try {
      await api.patch(`/api/auth/users/${user.id}/`, { is_active: true });
      toast(`Compte « ${user.username} » réactivé.`);
      load();
    } catch (error) {
      setBusy(btn, false);
      if (!(error instanceof ApiError)) throw error;
      toast(error.french(), "error");
    }
  }

  /** Le journal du compte (créations, rôles, activation, mots de passe). */
  function showJournal(user) {
    const box = h("div", { class: "dialog__body" });
    const close = button("Fermer", { class: "btn" });
    const title = `Journal de ${user.username}`;
    const dialog = h("dialog", { class: "dialog", "aria-label": title, dataset: { testid: "journal-dialog" } }, h("h2", { class: "dialog__title", text: title }), box, h("div", { class: "dialog__actions" }, close));
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    close.focus();
    showAudit(box, "/api/auth/audit/", { user_id: user.id }, "actor", signal);
  }

  function resetPassword(user) {
    formDialog({
      title: `Nouveau mot de passe pour ${user.username}`,
      description: "Ses sessions ouvertes seront fermées : la personne devra se reconnecter avec ce mot de passe.",
      submitLabel: "Enregistrer le mot de passe",
      build: (form) => {
        const pass = field({ label: "Nouveau mot de passe", name: "password", required: true, hint: `${MIN_PASSWORD} caractères au moins.`, control: input({ type: "password", autocomplete: "new-password" }) });
        const confirm = field({ label: "Confirmer le mot de passe", name: "confirm", required: true, control: input({ type: "password", autocomplete: "new-password" }) });
        form.append(pass.wrapper, confirm.wrapper);
        return { pass, confirm };
      },
      submit: async (form, message, { pass, confirm }) => {
        pass.setError("");
        confirm.setError("");
        message.clear();
        if ([...pass.control.value].length < MIN_PASSWORD) {
          pass.setError(`Le mot de passe doit contenir au moins ${MIN_PASSWORD} caractères.`);
          pass.control.focus();
          return false;
        }
        if (pass.control.value !== confirm.control.value) {
          confirm.setError("Les deux mots de passe diffèrent.");
          confirm.control.focus();
          return false;
        }
        try {
          await api.patch(`/api/auth/users/${user.id}/`, { password: pass.control.value });
          toast(`Mot de passe de « ${user.username} » changé.`);
          return true;
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          message.show(error.french(), "error");
          const fields = fieldMessages(error);
          if (fields.password) pass.setError(fields.password);
          return false;
        }
      },
    });
  }

  bindFilters({ state, reload: load, search: search.control, selects: { role: roleFilter.control, active: activeFilter.control } });

  await load();
}
