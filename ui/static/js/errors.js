// Des réponses d'erreur de l'API (problem+json) aux messages affichés.
//
// L'interface ne recopie pas aveuglément `detail` : le texte dépend du
// statut, des champs en erreur et des membres du corps (`available`,
// `version`...). Un `detail` n'est repris que s'il est reconnu comme français
// (les messages de validation par champ des services le sont) ; sinon un
// message français générique par statut le remplace.

import { FIELD_LABELS } from "./labels.js";
import { plural } from "./dom.js";

/** Une réponse d'erreur de l'API, ou l'échec du réseau (status 0). */
export class ApiError extends Error {
  constructor(status, body = {}, headers = null) {
    super(typeof body?.detail === "string" ? body.detail : `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body && typeof body === "object" ? body : {};
    this.detail = typeof this.body.detail === "string" ? this.body.detail : "";
    this.retryAfter = parseRetryAfter(headers?.get?.("Retry-After"));
    this.fields = {};
    for (const [key, value] of Object.entries(this.body)) {
      if (key === "detail") continue;
      if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
        this.fields[key] = value;
      }
    }
  }

  get isNetwork() {
    return this.status === 0;
  }

  /** Le message français à afficher ; `context` affine certains cas. */
  french(context = {}) {
    return frenchMessage(this, context);
  }
}

/** Le réseau ou le serveur ne répond pas (fetch a échoué). */
export function networkError(cause) {
  const error = new ApiError(0, {});
  error.cause = cause;
  return error;
}

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

const FRENCH_HINTS = /[àâçéèêëîïôûùüÿœ]|\b(le|la|les|des|une?|est|pas|doit|champ|requis|invalide|déjà)\b/i;
const FOREIGN_HINTS = /`|\bexpected\b|\bunknown\b|\binvalid type\b|\bmissing field\b|\bnot found\b|\bat line\b/i;

/** Un texte de l'API qu'on peut montrer tel quel. */
export function looksFrench(text) {
  return typeof text === "string" && text.length > 0 && FRENCH_HINTS.test(text) && !FOREIGN_HINTS.test(text);
}

/** « Stock insuffisant : 3 disponibles » (« 1 disponible », « 0 disponible »). */
export function insufficientStock(available) {
  return `Stock insuffisant : ${plural(available, "disponible")}`;
}

export function waitText(seconds) {
  if (seconds === null || seconds === undefined) return "dans quelques instants";
  if (seconds < 60) return `dans ${plural(seconds, "seconde")}`;
  const minutes = Math.ceil(seconds / 60);
  return `dans ${plural(minutes, "minute")}`;
}

/** Messages de conflit (409) connus du service stock, réécrits. */
const STOCK_CONFLICTS = [
  [/archiv/i, "Cette pièce est archivée : aucun mouvement n’est possible."],
  [/déjà été annulé/i, "Ce mouvement a déjà été annulé."],
  [/annulation ne s.annule/i, "Une annulation ne peut pas être annulée."],
  [/rien à annuler/i, "Ce mouvement n’a rien changé : il n’y a rien à annuler."],
  [/concurrente/i, "Une demande identique est en cours de traitement ; réessayez dans un instant."],
];

export function frenchMessage(error, context = {}) {
  if (!(error instanceof ApiError)) {
    return "Une erreur inattendue est survenue. Rechargez la page puis réessayez.";
  }
  const { status, body, detail } = error;
  switch (status) {
    case 0:
      return "Impossible de joindre le serveur. Vérifiez la connexion puis réessayez.";
    case 400: {
      if (Object.keys(error.fields).length > 0) {
        return context.invalid || "Certaines valeurs sont invalides : corrigez les champs signalés.";
      }
      return context.badRequest || "La demande a été refusée : données invalides.";
    }
    case 401:
      if (context.login) return "Nom d’utilisateur ou mot de passe incorrect.";
      return "Votre session a expiré. Reconnectez-vous pour continuer.";
    case 403:
      return context.forbidden || "Votre rôle ne permet pas cette action.";
    case 404:
      return context.notFound || "Élément introuvable : il a peut-être été supprimé.";
    case 409: {
      if (typeof body.available === "number") return insufficientStock(body.available);
      if (typeof body.version === "number") {
        return "Cette pièce a été modifiée entre-temps par quelqu’un d’autre. Rechargez-la puis recommencez.";
      }
      if (Object.keys(error.fields).length > 0) {
        return "Une valeur est déjà utilisée : corrigez les champs signalés.";
      }
      for (const [pattern, text] of STOCK_CONFLICTS) {
        if (pattern.test(detail)) return text;
      }
      if (context.conflict) return context.conflict;
      return looksFrench(detail) ? detail : "Conflit avec l’état actuel des données. Rechargez la page puis réessayez.";
    }
    case 412:
      return "Cette pièce a été modifiée entre-temps par quelqu’un d’autre. Rechargez-la puis recommencez.";
    case 413:
      return "Le fichier est trop volumineux (10 Mio au plus).";
    case 415:
      return "Format de données refusé par le serveur.";
    case 422:
      return "Cette demande a déjà été envoyée avec d’autres valeurs : rien n’a été enregistré. Vérifiez puis renvoyez.";
    case 429:
      return context.login
        ? `Trop de tentatives de connexion. Réessayez ${waitText(error.retryAfter)}.`
        : `Trop de requêtes. Réessayez ${waitText(error.retryAfter)}.`;
    case 503:
      return "Un service est momentanément indisponible. Réessayez dans un instant.";
    default:
      if (status >= 500) return "Le serveur a rencontré une erreur. Réessayez dans un instant.";
      return `La demande a échoué (code ${status}).`;
  }
}

/**
 * Les messages par champ d'une erreur 400/409, en français : les textes des
 * services sont déjà en français ; un texte qui ne l'est pas est remplacé.
 */
export function fieldMessages(error) {
  const result = {};
  for (const [name, messages] of Object.entries(error?.fields || {})) {
    result[name] = messages.map((message) => (looksFrench(message) ? message : `${FIELD_LABELS[name] || name} : valeur invalide.`)).join(" ");
  }
  return result;
}

/** Réécrit « min_stock : Doit être un entier. » avec le libellé du champ. */
export function labelFieldPrefix(message) {
  const match = /^([a-z_]+) : (.*)$/s.exec(message);
  if (!match) return message;
  const [, name, rest] = match;
  return `${FIELD_LABELS[name] || name} : ${looksFrench(rest) ? rest : "valeur invalide."}`;
}
