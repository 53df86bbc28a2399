// Appels à l'API (toujours via API_BASE, c'est-à-dire Traefik) et jetons.
//
// - Le jeton d'accès (5 min) ne vit qu'en mémoire, dans ce module.
// - Le jeton de rafraîchissement est dans sessionStorage : il survit au
//   rechargement de l'onglet et disparaît avec lui (voir ui/README.md).
// - Sur un 401, on rafraîchit une fois puis on rejoue la requête. Les
//   rafraîchissements simultanés sont sérialisés : avec la rotation, un
//   jeton de rafraîchissement ne sert qu'une fois, et le présenter deux fois
//   fermerait la session.

import { API_BASE } from "../config.js";
import { ApiError, networkError } from "./errors.js";

const REFRESH_KEY = "gestion-de-stock.refresh";

let accessToken = null;
let refreshing = null;
let onExpired = () => {};
let onTokens = () => {};

/** Appelée quand la session ne peut plus être prolongée. */
export function onSessionExpired(callback) {
  onExpired = callback;
}

/** Appelée à chaque nouveau jeton d'accès (avec ses revendications). */
export function onNewTokens(callback) {
  onTokens = callback;
}

export function hasStoredSession() {
  return Boolean(readRefresh());
}

function readRefresh() {
  try {
    return sessionStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function storeTokens({ access, refresh }) {
  accessToken = access || null;
  try {
    if (refresh) sessionStorage.setItem(REFRESH_KEY, refresh);
  } catch {
    // Stockage indisponible (navigation privée stricte) : la session ne
    // survivra pas à un rechargement, mais fonctionne.
  }
  if (accessToken) onTokens(claims(accessToken));
}

export function clearTokens() {
  accessToken = null;
  try {
    sessionStorage.removeItem(REFRESH_KEY);
  } catch {
    /* rien à faire */
  }
}

/** Les revendications d'un JWT (sans vérification : affichage seulement). */
export function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))
        .split("")
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
        .join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

function url(path, query) {
  const target = new URL(path, API_BASE);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      target.searchParams.set(key, String(value));
    }
  }
  return target.toString();
}

async function readBody(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  return null;
}

async function send(method, path, { query, body, headers = {}, signal, auth = true, raw = false, token } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, cache: "no-store" };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Blob) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (cause) {
    if (cause?.name === "AbortError") throw cause;
    throw networkError(cause);
  }
  return response;
}

/**
 * Un nouveau couple de jetons. Un seul rafraîchissement à la fois : les
 * appelants concurrents attendent le même.
 */
export function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const refresh = readRefresh();
      if (!refresh) throw new ApiError(401, { detail: "no session" });
      const response = await send("POST", "/api/auth/refresh/", { body: { refresh }, auth: false });
      const data = await readBody(response);
      if (!response.ok) {
        const error = new ApiError(response.status, data || {}, response.headers);
        if (response.status === 401) clearTokens();
        throw error;
      }
      storeTokens(data);
      return accessToken;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Une requête authentifiée. Rend { data, response } ; lève ApiError.
 * Options : query, body, headers, signal, raw (ne pas lire le corps).
 */
export async function request(method, path, options = {}) {
  if (!accessToken && options.auth !== false && hasStoredSession()) {
    await refreshOrExpire();
  }
  let used = accessToken;
  let response = await send(method, path, { ...options, token: used });
  if (response.status === 401 && options.auth !== false) {
    // Un autre appel a peut-être déjà renouvelé le jeton.
    if (accessToken && accessToken !== used) {
      used = accessToken;
    } else {
      used = await refreshOrExpire();
    }
    response = await send(method, path, { ...options, token: used });
    if (response.status === 401) {
      expire();
    }
  }
  if (!response.ok) {
    const data = await readBody(response);
    throw new ApiError(response.status, data || {}, response.headers);
  }
  if (options.raw) return { data: null, response };
  return { data: await readBody(response), response };
}

async function refreshOrExpire() {
  try {
    return await refreshTokens();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      expire();
    }
    throw error;
  }
}

function expire() {
  clearTokens();
  onExpired();
}

export const api = {
  get: (path, options) => request("GET", path, options).then((r) => r.data),
  post: (path, body, options = {}) => request("POST", path, { ...options, body }),
  put: (path, body, options = {}) => request("PUT", path, { ...options, body }),
  patch: (path, body, options = {}) => request("PATCH", path, { ...options, body }),
  delete: (path, options = {}) => request("DELETE", path, options),
};

// --- Session ---------------------------------------------------------------------

/** Connexion : rend l'utilisateur ; lève ApiError (401, 429...). */
export async function login(username, password) {
  const response = await send("POST", "/api/auth/login/", { body: { username, password }, auth: false });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data || {}, response.headers);
  storeTokens(data);
  return data.user;
}

/** Reprend la session de l'onglet (après un rechargement). */
export async function resume() {
  await refreshTokens();
  return api.get("/api/auth/me/");
}

/** Ferme la session côté serveur (au mieux) puis oublie les jetons. */
export async function logout() {
  const refresh = readRefresh();
  clearTokens();
  if (!refresh) return;
  try {
    await send("POST", "/api/auth/logout/", { body: { refresh }, auth: false });
  } catch {
    // Hors ligne : le jeton expirera de lui-même.
  }
}

/** Télécharge un fichier de l'API avec le jeton puis l'enregistre. */
export async function download(path, query, fallbackName) {
  const { response } = await request("GET", path, { query, raw: true, headers: { Accept: "text/csv" } });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  return { blob, name };
}
