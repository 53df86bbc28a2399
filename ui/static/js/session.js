// L'utilisateur connecté et ce que son rôle permet. Le serveur refuse de
// toute façon ce que le rôle n'autorise pas ; l'interface ne le propose pas.

import { rank } from "./labels.js";

const listeners = new Set();

export const session = {
  user: null,

  set(user) {
    this.user = user;
    for (const listener of listeners) listener(user);
  },

  /** Met à jour le rôle d'après un nouveau jeton (le rôle a pu changer). */
  updateFromClaims(claims) {
    if (!this.user || !claims?.role || claims.role === this.user.role) return;
    if (String(claims.sub) !== String(this.user.id)) return;
    this.set({ ...this.user, role: claims.role });
  },

  clear() {
    this.set(null);
  },

  get loggedIn() {
    return Boolean(this.user);
  },

  /** Le rôle de l'utilisateur atteint-il `role` ? */
  can(role) {
    return Boolean(this.user) && rank(this.user.role) >= rank(role);
  },

  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** Ce que chaque rôle peut faire, au même endroit (voir docs/ROLES.md). */
export const may = {
  editCatalogue: () => session.can("manager"),
  importCatalogue: () => session.can("manager"),
  recordMovement: () => session.can("operator"),
  adjust: () => session.can("manager"),
  manageLocations: () => session.can("manager"),
  count: () => session.can("operator"),
  validateCount: () => session.can("manager"),
  reverse: () => session.can("manager"),
  sendMessage: () => session.can("manager"),
  managePurchasing: () => session.can("manager"),
  receive: () => session.can("operator"),
  manageUsers: () => session.can("admin"),
};
