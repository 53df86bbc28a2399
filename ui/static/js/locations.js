// Les emplacements du stock (arbre site → zone → bac), pour les listes de
// choix : chaque entrée décalée selon sa profondeur, parents d'abord.

import { api } from "./api.js";

/** L'emplacement où va un mouvement qui n'en nomme aucun. */
export const DEFAULT_LOCATION = 1;

/** Les emplacements actifs, parents avant enfants. */
export function loadLocations(signal) {
  return api.get("/api/stock/locations/", { signal });
}

/** Un libellé d'option : « CODE — Nom », décalé d'après la profondeur. */
export function locationLabel(location) {
  return `${"\u00a0\u00a0".repeat(location.depth)}${location.code} — ${location.name}`;
}

/** Options de select ; `first` : l'entrée vide éventuelle ([valeur, libellé]). */
export function locationOptions(locations, first = null) {
  const options = locations.map((l) => [l.id, locationLabel(l)]);
  return first ? [first, ...options] : options;
}
