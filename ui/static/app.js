// Point d'entrée de l'interface. Il ne contacte encore aucune API : il se
// contente d'indiquer que le script est chargé.
const etat = document.getElementById("etat");
if (etat) {
  etat.textContent = "Interface chargée.";
}
