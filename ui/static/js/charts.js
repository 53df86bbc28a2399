// Diagrammes en SVG écrit à la main : des barres horizontales, une par
// ligne, lisibles sur un téléphone (l'étiquette au-dessus de sa barre) comme
// sur un écran large. Le tableau posé à côté porte les mêmes chiffres pour
// les lecteurs d'écran : le dessin est une image décrite par son titre.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 34; // hauteur d'une ligne en px : étiquette (14) + barre (12) + marge

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * Barres horizontales : `rows` = [{ label, value, text }] (`text` : la valeur
 * telle qu'on l'écrit). `title` décrit l'image pour les lecteurs d'écran.
 * Sans viewBox : le texte garde sa taille à toute largeur, les barres sont
 * en pourcentage de la largeur de la carte.
 */
export function barChart({ rows, title, testid }) {
  const max = Math.max(1, ...rows.map((row) => Math.abs(row.value)));
  const chart = svg("svg", { class: "chart", width: "100%", height: Math.max(ROW, rows.length * ROW), role: "img", "aria-label": title });
  if (testid) chart.dataset.testid = testid;
  chart.append(svg("title", {}, title));
  rows.forEach((row, index) => {
    const top = index * ROW;
    const share = Math.max(0, (row.value / max) * 100);
    const group = svg("g", { class: "chart__row" });
    group.append(
      svg("title", {}, `${row.label} : ${row.text}`),
      svg("text", { x: 0, y: top + 13, class: "chart__label" }, `${row.label} — ${row.text}`),
      svg("rect", { x: 0, y: top + 18, width: "100%", height: 12, rx: 3, class: "chart__track" }),
      svg("rect", { x: 0, y: top + 18, width: `${share.toFixed(2)}%`, height: 12, rx: 3, class: "chart__bar", "data-value": row.value }),
    );
    chart.append(group);
  });
  return chart;
}
