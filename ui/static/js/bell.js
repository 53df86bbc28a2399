// La cloche de l'en-tête : nombre de notifications non lues, relu toutes
// les 10 s (quand l'onglet est visible), aussitôt après un mouvement, puis
// quelques fois dans les secondes qui suivent (les alertes passent par la
// boîte d'envoi du service stock, vidée chaque seconde).

import { api } from "./api.js";
import { plural } from "./dom.js";

const POLL_MS = 10_000;
const AFTER_CHANGE_MS = [500, 1500, 3000, 6000];

let timer = null;
let running = false;
let generation = 0;
const listeners = new Set();
let current = null;

function render(count) {
  const link = document.getElementById("cloche");
  const badge = document.getElementById("cloche-compte");
  if (!link || !badge) return;
  badge.dataset.count = String(count);
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  link.setAttribute("aria-label", count === 0 ? "Notifications : aucune non lue" : `Notifications : ${plural(count, "non lue", "non lues")}`);
  link.classList.toggle("bell--unread", count > 0);
}

/** Relit le compte maintenant. */
export async function refreshBell() {
  if (!running) return;
  const mine = generation;
  try {
    const data = await api.get("/api/notifications/unread-count/");
    if (!running || mine !== generation) return;
    const count = Number(data?.unread) || 0;
    if (count !== current) {
      current = count;
      render(count);
      for (const listener of listeners) listener(count);
    }
  } catch {
    // Service indisponible : on garde le dernier compte, on réessaiera.
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (document.visibilityState === "visible") await refreshBell();
    if (running) schedule();
  }, POLL_MS);
}

/** Après une action qui peut créer une alerte (mouvement, annulation). */
export function refreshBellSoon() {
  refreshBell();
  for (const delay of AFTER_CHANGE_MS) setTimeout(refreshBell, delay);
}

export function startBell() {
  if (running) return;
  running = true;
  generation += 1;
  current = null;
  refreshBell();
  schedule();
}

export function stopBell() {
  running = false;
  generation += 1;
  clearTimeout(timer);
  current = null;
  const badge = document.getElementById("cloche-compte");
  if (badge) {
    badge.hidden = true;
    badge.dataset.count = "";
  }
}

/** Être prévenu quand le compte change. */
export function onBellChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

document.addEventListener("visibilitychange", () => {
  if (running && document.visibilityState === "visible") refreshBell();
});
