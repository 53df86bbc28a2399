// Parcours complet de l'interface dans Chromium (playwright-core), contre
// une pile fraîche : connexion, renouvellement du jeton, session expirée,
// préférences, pièce, mouvements, alerte à la cloche, notification lue,
// stock insuffisant, historique, emplacements en arbre, transfert, filtre
// par emplacement, inventaire validé, compte lecteur et ses droits, déconnexion,
// blocage (429), mauvais mot de passe. Tout ce qu'il crée porte un nom unique.
// Tout passe par la vraie pile : la pile de test signe des jetons d'accès
// très courts, pour que le renouvellement et l'expiration de session se
// produisent pendant le parcours ; le blocage final est un vrai blocage.
//
// Entrées (variables d'environnement) :
//   UI_URL          http://127.0.0.1:5500
//   API_URL         http://127.0.0.1:8090 (vérifications de départ seulement)
//   ADMIN_USERNAME  admin
//   ADMIN_PASSWORD  …
//   SCREENSHOT_DIR  dossier des captures (une par page visitée)
//   ACCESS_TOKEN_EXPIRY_SECS  au bout de combien de secondes un jeton
//                   d'accès est refusé (durée de vie + tolérance des services)
//   CHROMIUM        /usr/bin/chromium par défaut
//
// Une ligne par étape ; au premier échec : message clair, capture
// « echec-… .png » et code de sortie 1.

import { chromium } from "playwright-core";
import { mkdtemp, mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeQr, y4mOf } from "./codes.mjs";

const TIMEOUT = 10_000;
const ALERT_TIMEOUT = 20_000; // boîte d'envoi vidée chaque seconde + cloche
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 360, height: 780 };
const PHONE = { width: 390, height: 844 };

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`Variable d'environnement manquante : ${name}`);
    process.exit(2);
  }
  return value;
};

const UI_URL = env("UI_URL").replace(/\/$/, "");
const API_URL = env("API_URL").replace(/\/$/, "");
const ADMIN_USERNAME = env("ADMIN_USERNAME");
const ADMIN_PASSWORD = env("ADMIN_PASSWORD");
const SCREENSHOT_DIR = env("SCREENSHOT_DIR");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=fr-FR"];
const TOKEN_EXPIRY_MS = Number(env("ACCESS_TOKEN_EXPIRY_SECS")) * 1000 + 1000;
const REFRESH_KEY = "gestion-de-stock.refresh";

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const REFERENCE = `TEST-${suffix}`;
const PIECE_NAME = `Écrou de test ${suffix}`;
const VIEWER = `lecteur_${suffix.toLowerCase()}`;
const SHELF = `ETAGERE-${suffix}`;
const BIN = `BAC-${suffix}`;
const VIEWER_PASSWORD = `Lecteur-${suffix}-mdp`;
const SUPPLIER = `Fournisseur ${suffix}`;

let page;
let context;
let shotCount = 0;
let stepCount = 0;
const problems = [];

// --- Outils -----------------------------------------------------------------------

class StepFailure extends Error {}

function fail(message) {
  throw new StepFailure(message);
}

async function step(title, body) {
  stepCount += 1;
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`ÉCHEC  ${String(stepCount).padStart(2)}. ${title} (${seconds} s)`);
    console.log(`       ${error instanceof StepFailure ? error.message : error.stack || error}`);
    if (problems.length) console.log(`       Console du navigateur :\n         ${problems.join("\n         ")}`);
    if (page) {
      try {
        await page.screenshot({ path: path.join(SCREENSHOT_DIR, `echec-${String(stepCount).padStart(2, "0")}.png`), fullPage: true });
        console.log(`       Adresse : ${page.url()} ; capture : ${path.join(SCREENSHOT_DIR, `echec-${String(stepCount).padStart(2, "0")}.png`)}`);
      } catch {
        /* rien */
      }
    }
    error.reported = true;
    throw error;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`ok     ${String(stepCount).padStart(2)}. ${title} (${seconds} s)`);
}

async function shot(name, viewport = WIDE) {
  const current = page.viewportSize();
  if (current.width !== viewport.width || current.height !== viewport.height) await page.setViewportSize(viewport);
  shotCount += 1;
  const file = path.join(SCREENSHOT_DIR, `${String(shotCount).padStart(2, "0")}-${name}.png`);
  // Les annonces (toasts) passent ; on attend qu'aucun chargement ne soit en cours.
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"], .loading'), null, { timeout: TIMEOUT }).catch(() => {});
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const byTestId = (id) => page.locator(`[data-testid="${id}"]`);

/** Une requête de l'interface vers l'API (toute origine autre que l'interface). */
const isApi = (url) => url.origin !== new URL(UI_URL).origin && url.pathname.startsWith("/api/");


async function visible(locator, what, timeout = TIMEOUT) {
  try {
    await locator.first().waitFor({ state: "visible", timeout });
  } catch {
    fail(`${what} : introuvable ou invisible après ${timeout / 1000} s.`);
  }
}

async function absent(locator, what) {
  const count = await locator.count();
  if (count > 0) fail(`${what} : ne devrait pas être proposé à ce rôle (${count} trouvé${count > 1 ? "s" : ""}).`);
}

async function textOf(locator) {
  return ((await locator.first().textContent()) || "").replace(/\s+/g, " ").trim();
}

/** Attend que le texte de `locator` contienne `expected`. */
async function waitForText(locator, expected, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    if ((await locator.count()) > 0) {
      last = await textOf(locator);
      if (expected instanceof RegExp ? expected.test(last) : last.includes(expected)) return last;
    }
    await page.waitForTimeout(150);
  }
  fail(`${what} : attendu « ${expected} », lu « ${last} » après ${timeout / 1000} s.`);
}

/** Le nombre affiché par la cloche (0 quand la pastille est cachée). */
async function bellCount() {
  const raw = await byTestId("bell-count").getAttribute("data-count");
  return raw === null || raw === "" ? null : Number(raw);
}

async function waitForBell(predicate, what, timeout) {
  const deadline = Date.now() + timeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await bellCount();
    if (last !== null && predicate(last)) return last;
    await page.waitForTimeout(250);
  }
  fail(`${what} : la cloche affiche ${last === null ? "rien" : last} après ${timeout / 1000} s.`);
}

async function waitForPage(name) {
  await visible(byTestId(`page-${name}`), `la page « ${name} »`);
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: TIMEOUT }).catch(() => {});
}

async function goTo(hash, name) {
  await page.goto(`${UI_URL}/#${hash}`);
  await waitForPage(name);
}

async function clickNavTab(testid, name) {
  await byTestId(testid).click();
  await waitForPage(name);
}

async function clickNav(testid, name) {
  const link = byTestId(testid);
  if (!(await link.isVisible())) {
    await page.locator("#menu-bascule").click();
  }
  await link.click();
  await waitForPage(name);
}

async function login(username, password) {
  await visible(byTestId("login-form"), "le formulaire de connexion");
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    await byTestId("login-username").fill(username);
    await byTestId("login-password").fill(password);
    await byTestId("login-submit").click();
    const outcome = await Promise.race([
      byTestId("page-tableau-de-bord").waitFor({ state: "visible", timeout: TIMEOUT }).then(() => "ok"),
      page.waitForFunction(() => /Trop de tentatives/.test(document.querySelector('[data-testid="login-error"]')?.textContent || ""), null, { timeout: TIMEOUT }).then(() => "locked"),
    ]).catch(() => "timeout");
    if (outcome === "ok") return;
    if (outcome === "locked" && attempt === 1) {
      // Compte ou client bloqué par de précédents essais : attendre le délai annoncé.
      const message = await textOf(byTestId("login-error"));
      const seconds = Number(/(\d+) seconde/.exec(message)?.[1] || 0);
      if (seconds > 0 && seconds <= 120) {
        console.log(`       (connexion bloquée : « ${message} » ; nouvel essai dans ${seconds} s)`);
        await page.waitForTimeout((seconds + 1) * 1000);
        continue;
      }
    }
    const error = (await byTestId("login-error").count()) ? await textOf(byTestId("login-error")) : "";
    fail(`connexion de « ${username} » refusée ou trop lente${error ? ` : « ${error} »` : ""}.`);
  }
}

async function choosePieceInMovementForm(pieceId) {
  await visible(byTestId("movement-form"), "le formulaire de mouvement");
  await byTestId("movement-piece-search").fill(REFERENCE);
  await page.waitForFunction(
    (id) => Boolean(document.querySelector(`[data-testid="movement-piece"] option[value="${id}"]`)),
    pieceId,
    { timeout: TIMEOUT },
  ).catch(() => fail(`la pièce ${REFERENCE} n'apparaît pas dans la liste du formulaire de mouvement.`));
  await byTestId("movement-piece").selectOption(String(pieceId));
}

async function recordMovement(type, quantity) {
  await byTestId(`movement-type-${type}`).check();
  await byTestId("movement-quantity").fill(String(quantity));
  await byTestId("movement-submit").click();
}

/** Crée un emplacement par le formulaire ; rend son id. */
async function createLocation(code, name, parentId = null) {
  await byTestId("location-code").fill(code);
  await byTestId("location-name").fill(name);
  if (parentId) await byTestId("location-parent").selectOption(parentId);
  await byTestId("location-submit").click();
  const row = page.locator(`[data-testid="location-row"][data-code="${code}"]`);
  await visible(row, `l’emplacement ${code} dans l’arbre`);
  return row.getAttribute("data-location-id");
}

/** Le QR code de la première étiquette affichée, en PNG (avec sa marge blanche). */
async function qrImage() {
  const box = await page.locator('[data-testid="label-sheet"] svg g').first().boundingBox();
  if (!box) fail("aucun QR code sur la planche.");
  const margin = 16;
  return page.screenshot({ clip: { x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin } });
}

async function levelInTable(pieceId) {
  const cell = page.locator(`[data-testid="level-row"][data-piece-id="${pieceId}"] [data-testid="level-quantity"]`);
  await visible(cell, `la ligne de ${REFERENCE} dans le tableau des niveaux`);
  return textOf(cell);
}

async function waitForApi() {
  const services = ["auth", "pieces", "stock", "notifications", "purchasing"];
  const deadline = Date.now() + 60_000;
  const down = new Set(services);
  while (Date.now() < deadline && down.size) {
    for (const service of [...down]) {
      try {
        const response = await fetch(`${API_URL}/api/${service}/health/`);
        if (response.ok) down.delete(service);
      } catch {
        /* pas encore */
      }
    }
    if (down.size) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (down.size) fail(`services injoignables via ${API_URL} : ${[...down].join(", ")}.`);
  const ui = await fetch(`${UI_URL}/config.js`).catch(() => null);
  if (!ui?.ok) fail(`l'interface ne répond pas sur ${UI_URL}.`);
}

// --- Parcours -------------------------------------------------------------------------

async function main() {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const profile = await mkdtemp(path.join(tmpdir(), "gestion-de-stock-chromium-"));
  let pieceId = null;

  try {
    await step(`La pile répond (API ${API_URL}, interface ${UI_URL})`, waitForApi);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: WIDE,
      locale: "fr-FR",
      timezoneId: "Europe/Paris",
      acceptDownloads: true,
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(TIMEOUT);
    page.on("pageerror", (error) => problems.push(`erreur JavaScript : ${error.message}`));
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      const text = message.text();
      // Les réponses 4xx attendues (401, 409...) sont journalisées par Chromium.
      if (/Failed to load resource/.test(text)) return;
      problems.push(text);
    });

    await step("Connexion de l’administrateur par le formulaire", async () => {
      await page.goto(`${UI_URL}/`);
      await visible(byTestId("page-connexion"), "la page de connexion (redirection sans session)");
      await shot("connexion");
      await login(ADMIN_USERNAME, ADMIN_PASSWORD);
      const role = await textOf(byTestId("current-role"));
      if (role !== "Administrateur") fail(`rôle affiché « ${role} » au lieu de « Administrateur ».`);
      const storage = await page.evaluate(() => ({ local: localStorage.length, session: Object.keys(sessionStorage) }));
      if (storage.local !== 0) fail(`localStorage devrait rester vide (${storage.local} entrée(s)).`);
      if (!storage.session.some((key) => key.includes("refresh"))) fail("le jeton de rafraîchissement n’est pas dans sessionStorage.");
      await waitForText(byTestId("stat-pieces-value"), /^\d[\d\s\u202f\u00a0]*$/, "le compteur de pièces du tableau de bord");
      await shot("tableau-de-bord");
    });

    await step("Jeton d’accès expiré : renouvelé une seule fois, sans retour à la connexion", async () => {
      // Le jeton d'accès expire pendant que la page est ouverte. Selon le
      // moment, c'est la cloche (interrogée toutes les 10 s) ou les requêtes
      // parallèles du tableau de bord qui le découvrent : dans tous les cas,
      // un seul renouvellement (les jetons de rafraîchissement tournent).
      let rejected = 0;
      let refreshes = 0;
      const countRefresh = (request) => {
        if (new URL(request.url()).pathname.startsWith("/api/auth/refresh")) refreshes += 1;
      };
      const countRejected = (response) => {
        if (isApi(new URL(response.url())) && response.status() === 401) rejected += 1;
      };
      await goTo("/compte", "compte");
      page.on("request", countRefresh);
      page.on("response", countRejected);
      try {
        await page.waitForTimeout(TOKEN_EXPIRY_MS);
        await clickNav("nav-dashboard", "tableau-de-bord");
        await waitForText(byTestId("stat-pieces-value"), /^\d[\d\s\u202f\u00a0]*$/, "le compteur de pièces après renouvellement");
      } finally {
        page.off("request", countRefresh);
        page.off("response", countRejected);
      }
      if (rejected < 1) fail("aucune requête refusée : le jeton n’a pas expiré pendant l’attente.");
      if (refreshes !== 1) fail(`${refreshes} renouvellements pour ${rejected} refus : un seul attendu (rotation des jetons).`);
      if (await byTestId("page-connexion").count()) fail("retour à la connexion au lieu d’un renouvellement.");
    });

    await step("Session expirée : retour à la connexion avec un message, puis reconnexion", async () => {
      // La session est fermée ailleurs (déconnexion depuis un autre poste) :
      // à l'expiration du jeton d'accès, le renouvellement est refusé, que
      // ce soit la cloche qui le découvre pendant l'attente ou le
      // rechargement de la page après.
      await goTo("/historique", "historique");
      const refresh = await page.evaluate((key) => sessionStorage.getItem(key), REFRESH_KEY);
      const closed = await fetch(`${API_URL}/api/auth/logout/`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh }),
      });
      if (!closed.ok) fail(`la fermeture de la session a répondu ${closed.status}.`);
      await page.waitForTimeout(TOKEN_EXPIRY_MS);
      await page.reload();
      await visible(byTestId("page-connexion"), "la page de connexion après expiration");
      await waitForText(byTestId("login-notice"), "Votre session a expiré", "le message d’expiration");
      await shot("session-expiree");
      await byTestId("login-username").fill(ADMIN_USERNAME);
      await byTestId("login-password").fill(ADMIN_PASSWORD);
      await byTestId("login-submit").click();
      // Retour à la page demandée avant l'expiration.
      await waitForPage("historique");
    });

    await step("Préférences : l’administrateur reçoit les alertes de stock, toutes catégories", async () => {
      await clickNav("nav-notifications", "notifications");
      const form = byTestId("prefs-form");
      await visible(form, "le formulaire des préférences");
      await byTestId("prefs-stock-alerts").check();
      for (const box of await form.locator('.check-list input[type="checkbox"]').all()) await box.uncheck();
      await form.locator('button[type="submit"]').click();
      await waitForText(byTestId("prefs-message"), "Préférences enregistrées", "la confirmation");
      await waitForText(byTestId("prefs-receives"), "Votre rôle reçoit les alertes : stock bas, rupture de stock, retour en stock", "l’état des alertes");
      // Les destinataires par défaut : gestionnaires et au-dessus, pour chaque sorte d'alerte.
      for (const kind of ["low_stock", "out_of_stock", "back_in_stock"]) {
        const role = byTestId(`audience-${kind}-role`);
        await visible(role, `le choix des destinataires « ${kind} »`);
        if ((await role.inputValue()) !== "manager") fail(`destinataires par défaut de ${kind} : « ${await role.inputValue()} » au lieu de manager.`);
      }
      await shot("notifications-destinataires");
    });

    await step("Webhooks : ajouté, son secret montré une fois, un essai au journal, supprimé", async () => {
      await byTestId("webhook-url").fill("https://hooks.example.invalid/stock");
      await byTestId("webhook-name").fill(`Essai ${suffix}`);
      await byTestId("webhook-submit").click();
      await waitForText(byTestId("webhook-secret-value"), "whsec_", "le secret de signature");
      const row = () => page.locator('[data-testid="webhook"]', { hasText: `Essai ${suffix}` });
      await visible(row(), "le webhook dans la liste");
      await row().locator('[data-testid="webhook-test"]').click();
      await waitForText(byTestId("toast").last(), "Essai envoyé", "l’annonce de l’essai");
      await row().locator('[data-testid="webhook-log"]').click();
      await waitForText(byTestId("webhook-deliveries"), "Essai", "l’essai dans le journal");
      await shot("webhooks-journal");
      await page.keyboard.press("Escape");
      await shot("notifications-webhooks");
      await row().locator('[data-testid="webhook-delete"]').click();
      await byTestId("dialog-confirm").click();
      await row().waitFor({ state: "detached", timeout: TIMEOUT });
    });

    await step(`Création de la pièce ${REFERENCE} (seuil 5) par le formulaire`, async () => {
      await clickNav("nav-pieces", "pieces");
      await shot("pieces");
      await byTestId("new-piece").click();
      await waitForPage("piece-formulaire");
      const form = byTestId("piece-form");
      await form.locator('[name="reference"]').fill(REFERENCE);
      await form.locator('[name="name"]').fill(PIECE_NAME);
      await form.locator('[name="category"]').fill("Visserie");
      await form.locator('[name="price"]').fill("0,35");
      await form.locator('[name="min_stock"]').fill("5");
      await form.locator('[name="location"]').fill("Allée A, bac 3");
      await shot("piece-nouvelle");
      await byTestId("piece-submit").click();
      await waitForPage("piece");
      const match = /#\/pieces\/(\d+)$/.exec(page.url());
      if (!match) fail(`après la création, l’adresse devrait être celle de la fiche (#/pieces/<id>) : ${page.url()}`);
      pieceId = Number(match[1]);
      await waitForText(page.locator("h1"), REFERENCE, "le titre de la fiche");
      await waitForText(byTestId("piece-level-value"), "0", "le niveau initial sur la fiche");
      await shot("fiche-piece");
    });

    await step("Une référence en double est signalée à côté du champ (409)", async () => {
      await goTo("/pieces/nouvelle", "piece-formulaire");
      const form = byTestId("piece-form");
      await form.locator('[name="reference"]').fill(REFERENCE.toLowerCase());
      await form.locator('[name="name"]').fill("Doublon");
      await byTestId("piece-submit").click();
      const error = form.locator('.field__error[data-error-for="reference"]');
      await waitForText(error, "existe déjà", "l’erreur à côté du champ Référence");
      await waitForText(byTestId("piece-form-message"), "déjà utilisée", "le message du formulaire");
      await shot("piece-doublon");
    });

    await step("La session survit au rechargement de l’onglet (sessionStorage)", async () => {
      await page.goto(`${UI_URL}/#/pieces/${pieceId}`);
      await page.reload();
      await waitForPage("piece");
      await visible(byTestId("logout"), "l’en-tête connecté après rechargement");
    });

    let bellBefore = 0;
    await step("ENTRÉE 10 puis SORTIE 8 : niveau 2 et alerte « stock bas » à la cloche", async () => {
      await clickNav("nav-stock", "stock");
      bellBefore = await waitForBell((n) => n >= 0, "le premier compte de la cloche", TIMEOUT);
      await choosePieceInMovementForm(pieceId);
      await recordMovement("IN", 10);
      await waitForText(byTestId("movement-message"), "niveau 10", "la confirmation de l’entrée");
      await recordMovement("OUT", 8);
      await waitForText(byTestId("movement-message"), "niveau 2", "la confirmation de la sortie");
      await waitForText(page.locator(`[data-testid="level-row"][data-piece-id="${pieceId}"] [data-testid="level-quantity"]`), /^2$/, "le niveau dans le tableau");
      const status = await page.locator(`[data-testid="level-row"][data-piece-id="${pieceId}"]`).getAttribute("data-status");
      if (status !== "low") fail(`statut « ${status} » au lieu de « low » (bas) pour 2 pièces sous un seuil de 5.`);
      await waitForBell((n) => n >= bellBefore + 1, "l’alerte de stock bas", ALERT_TIMEOUT);
      await shot("stock");
    });

    await step("Notifications : l’alerte est marquée lue et la cloche baisse", async () => {
      await byTestId("bell").click();
      await waitForPage("notifications");
      const item = page.locator(`[data-testid="notification"][data-reference="${REFERENCE}"][data-type="low_stock"]`);
      await visible(item, `l’alerte « Stock bas : ${REFERENCE} »`);
      if ((await item.first().getAttribute("data-read")) !== "false") fail("l’alerte devrait être non lue.");
      await shot("notifications");
      const before = await bellCount();
      await item.first().locator('[data-testid="mark-read"]').click();
      await waitForBell((n) => n === before - 1, `la cloche (de ${before} à ${before - 1})`, TIMEOUT);
      await page.waitForFunction(
        (ref) => document.querySelector(`[data-testid="notification"][data-reference="${ref}"][data-type="low_stock"]`)?.dataset.read === "true",
        REFERENCE,
        { timeout: TIMEOUT },
      ).catch(() => fail("l’alerte reste affichée comme non lue."));
    });

    await step("SORTIE 5 refusée : « Stock insuffisant : 2 disponibles », niveau inchangé", async () => {
      await clickNav("nav-stock", "stock");
      await choosePieceInMovementForm(pieceId);
      await recordMovement("OUT", 5);
      await waitForText(byTestId("movement-message"), "Stock insuffisant : 2 disponibles", "le message d’erreur");
      const role = await byTestId("movement-message").getAttribute("role");
      if (role !== "alert") fail(`le message d’erreur devrait être annoncé (role="alert"), pas role="${role}".`);
      await waitForText(byTestId("movement-level-value"), /^2\b/, "le niveau affiché dans le formulaire");
      const level = await levelInTable(pieceId);
      if (level !== "2") fail(`le niveau devrait rester 2, le tableau affiche ${level}.`);
      await shot("stock-insuffisant");
      await shot("stock-360px", NARROW);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) fail(`à 360 px, la page déborde de ${overflow} px en largeur.`);
      await page.setViewportSize(WIDE);
    });

    await step("Historique : les deux mouvements de la pièce, filtrés", async () => {
      await goTo(`/historique?piece_id=${pieceId}`, "historique");
      const rows = page.locator('[data-testid="movement-row"]');
      await visible(rows, "les lignes de l’historique");
      const count = await rows.count();
      if (count !== 2) fail(`2 mouvements attendus pour ${REFERENCE}, ${count} affichés.`);
      await visible(byTestId("reverse-movement"), "le bouton d’annulation (gestionnaire et au-dessus)");
      await shot("historique");
    });

    let shelfId = null;
    let binId = null;
    await step(`Emplacements : ${SHELF}, puis ${BIN} rangé dedans, affichés en arbre`, async () => {
      await clickNav("nav-locations", "emplacements");
      shelfId = await createLocation(SHELF, `Étagère ${suffix}`);
      await page.waitForFunction((id) => Boolean(document.querySelector(`[data-testid="location-parent"] option[value="${id}"]`)), shelfId, { timeout: TIMEOUT })
        .catch(() => fail(`${SHELF} n’est pas proposée comme parent.`));
      binId = await createLocation(BIN, `Bac ${suffix}`, shelfId);
      const depth = await page.locator(`[data-testid="location-row"][data-code="${BIN}"]`).getAttribute("data-depth");
      if (depth !== "1") fail(`${BIN} devrait être au niveau 1 de l’arbre, sous ${SHELF} (lu : ${depth}).`);
      await shot("emplacements");
    });

    await step(`Transfert de 1 ${REFERENCE} vers ${BIN} : 1 là, 1 à l’emplacement par défaut, filtre par emplacement`, async () => {
      await clickNav("nav-stock", "stock");
      await choosePieceInMovementForm(pieceId);
      await byTestId("movement-type-TRANSFER").check();
      await page.waitForFunction((id) => Boolean(document.querySelector(`[data-testid="movement-to"] option[value="${id}"]`)), binId, { timeout: TIMEOUT })
        .catch(() => fail(`${BIN} n’est pas proposé comme destination.`));
      await byTestId("movement-from").selectOption("1");
      await byTestId("movement-to").selectOption(binId);
      await byTestId("movement-quantity").fill("1");
      await byTestId("movement-submit").click();
      await waitForText(byTestId("movement-message"), "Transfert de 1 enregistré", "la confirmation du transfert");
      await waitForText(byTestId("movement-level-places"), `${BIN} 1`, "la quantité par emplacement dans le formulaire");
      await byTestId("stock-location").selectOption(shelfId);
      await waitForText(page.locator(`[data-testid="level-row"][data-piece-id="${pieceId}"] [data-testid="level-here"]`), /^1$/, `la quantité sous ${SHELF}`);
      const rows = await page.locator('[data-testid="level-row"]').count();
      if (rows !== 1) fail(`sous ${SHELF}, seule ${REFERENCE} devrait figurer (${rows} lignes).`);
      await shot("stock-par-emplacement");
      await goTo(`/pieces/${pieceId}`, "piece");
      await waitForText(page.locator(`[data-testid="piece-place"][data-code="${BIN}"] [data-testid="piece-place-quantity"]`), /^1\b/, `la quantité de ${BIN} sur la fiche`);
      await shot("fiche-par-emplacement");
    });

    await step(`Inventaire de ${BIN} : 3 comptés pour 1 attendu, écart +2, validé une fois, niveau 4`, async () => {
      await clickNav("nav-counts", "inventaires");
      await page.waitForFunction((id) => Boolean(document.querySelector(`[data-testid="count-location"] option[value="${id}"]`)), binId, { timeout: TIMEOUT })
        .catch(() => fail(`${BIN} n’est pas proposé à l’inventaire.`));
      await byTestId("count-location").selectOption(binId);
      await byTestId("count-open").click();
      await waitForPage("inventaire");
      const line = page.locator(`[data-testid="count-line"][data-piece-id="${pieceId}"]`);
      await visible(line, `la ligne de ${REFERENCE} dans l’inventaire`);
      // Compté en lisant l'étiquette trois fois, comme au lecteur.
      await byTestId("count-scan").focus();
      for (let i = 0; i < 3; i += 1) {
        await page.keyboard.type(REFERENCE);
        await page.keyboard.press("Enter");
      }
      await page.waitForFunction((id) => document.querySelector(`[data-testid="count-line"][data-piece-id="${id}"] [data-testid="count-input"]`)?.value === "3", pieceId, { timeout: TIMEOUT })
        .catch(() => fail("trois lectures devraient compter 3."));
      await byTestId("count-save").click();
      await waitForText(page.locator(`[data-testid="count-line"][data-piece-id="${pieceId}"] [data-testid="count-difference"]`), "+2", "l’écart affiché");
      await shot("inventaire");
      await byTestId("count-validate").click();
      await byTestId("dialog-confirm").click();
      await page.waitForFunction(() => document.querySelector('[data-testid="count-detail"]')?.dataset.status === "validated", null, { timeout: TIMEOUT })
        .catch(() => fail("l’inventaire ne passe pas à « validé »."));
      await shot("inventaire-valide");
      await shot("inventaire-360px", NARROW);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) fail(`à 360 px, l’inventaire déborde de ${overflow} px en largeur.`);
      await page.setViewportSize(WIDE);
      await goTo(`/pieces/${pieceId}`, "piece");
      await waitForText(byTestId("piece-level-value"), /^4$/, "le niveau total après l’inventaire");
      await waitForText(page.locator(`[data-testid="piece-place"][data-code="${BIN}"] [data-testid="piece-place-quantity"]`), /^3\b/, `la quantité de ${BIN} après l’inventaire`);
      await goTo(`/historique?location_id=${binId}`, "historique");
      await waitForText(byTestId("movement-place"), `${BIN}`, `l’emplacement des mouvements de ${BIN}`);
      const places = await page.locator('[data-testid="movement-row"] [data-testid="movement-place"]').allTextContents();
      if (places.length !== 2 || places[1] !== `DEFAUT → ${BIN}`) fail(`l’historique de ${BIN} devrait montrer l’ajustement puis le transfert, lu : ${places.join(" | ")}.`);
      await shot("historique-emplacement");
    });

    let orderId = null;
    await step(`Achats : ${SUPPLIER}, son offre par lots de 5, à commander 10, commande créée, envoyée, reçue par lecture, niveau 14`, async () => {
      await clickNav("nav-purchasing", "a-commander");
      await clickNavTab("tab-suppliers", "fournisseurs");
      await byTestId("supplier-name").fill(SUPPLIER);
      await byTestId("supplier-email").fill("commandes@example.com");
      await byTestId("supplier-create").click();
      await visible(page.locator(`[data-testid="supplier-row"][data-name="${SUPPLIER}"]`), "le fournisseur dans la liste");
      await shot("fournisseurs");

      await goTo(`/pieces/${pieceId}`, "piece");
      await page.waitForFunction((name) => [...document.querySelectorAll('[data-testid="offer-supplier"] option')].some((o) => o.textContent === name), SUPPLIER, { timeout: TIMEOUT })
        .catch(() => fail(`${SUPPLIER} n’est pas proposé pour une offre.`));
      await byTestId("offer-supplier").selectOption({ label: SUPPLIER });
      await byTestId("offer-price").fill("2,50");
      await byTestId("offer-pack").fill("5");
      await byTestId("offer-preferred").check();
      await byTestId("offer-create").click();
      await visible(page.locator(`[data-testid="offer"][data-supplier="${SUPPLIER}"][data-preferred="true"]`), "l’offre préférée sur la fiche");
      await shot("fiche-offres");

      // 4 en stock, minimum 5 : cible 10 (deux fois le minimum), 6 manquent, 2 lots de 5.
      await clickNav("nav-purchasing", "a-commander");
      const line = page.locator(`[data-testid="reorder-line"][data-reference="${REFERENCE}"] [data-testid="to-order"]`);
      await waitForText(line, /^10$/, "la quantité à commander");
      await shot("a-commander");
      await byTestId("create-orders").click();
      await waitForPage("commande");
      orderId = Number(/commandes\/(\d+)/.exec(page.url())?.[1]);
      await waitForText(byTestId("order-status"), "Brouillon", "le statut de la commande créée");
      await byTestId("order-send").click();
      await waitForText(byTestId("order-status"), "Envoyée", "le statut après l’envoi");
      await page.emulateMedia({ media: "print" });
      await shot("bon-de-commande-impression");
      await page.emulateMedia({ media: "screen" });

      // Un lecteur de codes tape la référence puis Entrée : 1, puis « RÉF 9 ».
      const scan = byTestId("receive-scan");
      await scan.fill(REFERENCE);
      await scan.press("Enter");
      await scan.fill(`${REFERENCE} 9`);
      await scan.press("Enter");
      await waitForText(page.locator(`[data-testid="receive-line"][data-reference="${REFERENCE}"] [data-testid="receive-quantity"]`), "× 10", "la quantité lue");
      await scan.fill("INCONNU-42");
      await scan.press("Enter");
      await waitForText(page.locator('[data-error-for="scan"]'), "n’est pas dans cette commande", "le code inconnu signalé");
      await shot("reception-lue");
      await byTestId("receive-submit").click();
      await waitForText(byTestId("order-status"), "Reçue", "le statut après la réception");
      await waitForText(byTestId("line-received"), /^10$/, "la quantité reçue de la ligne");
      await shot("commande-recue");
      await shot("commande-390px", PHONE);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) fail(`à 390 px, la commande déborde de ${overflow} px en largeur.`);
      await page.setViewportSize(WIDE);

      await goTo(`/pieces/${pieceId}`, "piece");
      await waitForText(byTestId("piece-level-value"), /^14$/, "le niveau après la réception");
      await goTo("/notifications", "notifications");
      await visible(page.locator(`[data-testid="notification"][data-type="back_in_stock"][data-reference="${REFERENCE}"]`), "l’alerte « retour en stock » après la réception", ALERT_TIMEOUT);
      await goTo("/", "tableau-de-bord");
      await waitForText(byTestId("stat-to-order-value"), /^0$/, "« À commander » au tableau de bord");
    });

    let labelPng = null;
    await step(`Étiquettes : planches de ${REFERENCE} et de ${BIN}, chaque QR code relu par un décodeur`, async () => {
      await goTo(`/etiquettes?pieces=${pieceId}`, "etiquettes");
      await visible(byTestId("label-sheet"), "la planche d’étiquettes");
      labelPng = await qrImage();
      const read = decodeQr(labelPng);
      if (read !== REFERENCE) fail(`le QR code de l’étiquette se lit « ${read} » au lieu de « ${REFERENCE} ».`);
      await shot("etiquettes-pieces");
      await shot("etiquettes-390px", PHONE);
      await page.setViewportSize(WIDE);
      await goTo(`/etiquettes?emplacements=${binId}&planche=2x7`, "etiquettes");
      await visible(byTestId("label-sheet"), "la planche des emplacements");
      const location = decodeQr(await qrImage());
      if (location !== `EMPL:${BIN}`) fail(`le QR code de l’emplacement se lit « ${location} » au lieu de « EMPL:${BIN} ».`);
      await shot("etiquettes-emplacements");
    });

    await step(`Scanner : ${BIN} lu puis 20 lectures de ${REFERENCE} au clavier comme un lecteur, 20 entrées, niveau 34`, async () => {
      await clickNav("nav-scanner", "scanner");
      await byTestId("scan-mode-IN").check();
      await byTestId("scan-auto").check();
      const scan = byTestId("scan-input");
      await scan.focus();
      // Un lecteur « douchette » tape le code puis Entrée, sans pause.
      await page.keyboard.type(`EMPL:${BIN}`);
      await page.keyboard.press("Enter");
      for (let i = 0; i < 20; i += 1) {
        await page.keyboard.type(REFERENCE);
        await page.keyboard.press("Enter");
      }
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="scan-entry"][data-kind="success"]').length >= 20, null, { timeout: 30_000 })
        .catch(async () => fail(`20 entrées attendues ; journal : ${(await page.locator('[data-testid="scan-entry"]').allTextContents()).join(" | ")}`));
      const errors = await page.locator('[data-testid="scan-entry"][data-kind="error"]').allTextContents();
      if (errors.length) fail(`lectures en erreur : ${errors.join(" | ")}`);
      await waitForText(byTestId("scan-level"), /^34$/, "le niveau affiché après les 20 lectures");
      await page.keyboard.type("INCONNU-XYZ");
      await page.keyboard.press("Enter");
      await visible(byTestId("scan-create"), "la proposition de créer la pièce au code inconnu");
      await shot("scanner");
      await shot("scanner-390px", PHONE);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) fail(`à 390 px, le scanner déborde de ${overflow} px en largeur.`);
      await page.setViewportSize(WIDE);
      await byTestId("scan-create").click();
      await waitForPage("piece-formulaire");
      const prefilled = await page.locator('input[name="reference"]').inputValue();
      if (prefilled !== "INCONNU-XYZ") fail(`la nouvelle pièce devrait reprendre le code lu, lu « ${prefilled} ».`);
      await goTo(`/pieces/${pieceId}`, "piece");
      await waitForText(page.locator(`[data-testid="piece-place"][data-code="${BIN}"] [data-testid="piece-place-quantity"]`), /^23\b/, `la quantité de ${BIN} après les lectures`);
      await waitForText(page.locator('[data-testid="audit-entry"][data-action="create"]'), "par admin", "la création de la pièce dans son journal");
      // Sans caméra ici : le message le dit.
      await goTo("/scanner", "scanner");
      await byTestId("scan-camera").click();
      await waitForText(byTestId("scan-camera-message"), /Caméra refusée|Aucune caméra/, "le message quand la caméra manque");
    });

    await step(`Caméra : la fausse caméra de Chromium filme l’étiquette de ${REFERENCE}, le scanner trouve la pièce`, async () => {
      const video = path.join(SCREENSHOT_DIR, "etiquette.y4m");
      await y4mOf(labelPng, video);
      const cameraProfile = await mkdtemp(path.join(tmpdir(), "gestion-de-stock-camera-"));
      const camera = await chromium.launchPersistentContext(cameraProfile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${video}`],
        viewport: PHONE,
        locale: "fr-FR",
      });
      const main = page;
      try {
        page = camera.pages()[0] || (await camera.newPage());
        await page.goto(`${UI_URL}/`);
        await login(ADMIN_USERNAME, ADMIN_PASSWORD);
        await goTo("/scanner", "scanner");
        await byTestId("scan-camera").click();
        await visible(byTestId("scan-video"), "l’image de la caméra");
        await visible(page.locator(`[data-testid="scan-piece"] [data-piece-id="${pieceId}"]`), "la pièce lue par la caméra", 20_000);
        await shot("scanner-camera", PHONE);
      } catch (error) {
        await page.screenshot({ path: path.join(SCREENSHOT_DIR, "echec-camera.png"), fullPage: true }).catch(() => {});
        throw error;
      } finally {
        page = main;
        await camera.close().catch(() => {});
        await rm(cameraProfile, { recursive: true, force: true }).catch(() => {});
      }
    });

    await step(`Rapports : ${REFERENCE} en tête des plus utilisées (8 sorties), valeur et ruptures affichées, export CSV, lisible à 390 px`, async () => {
      await clickNav("nav-history", "historique");
      await clickNavTab("tab-reports", "rapports");
      const topRow = byTestId("table-movers").locator("tbody tr").first();
      await waitForText(topRow, REFERENCE, "la première ligne des pièces les plus utilisées");
      const used = await textOf(topRow.locator("td").nth(1));
      if (used !== "8") fail(`${REFERENCE} : ${used} utilisées au lieu de 8.`);
      await visible(byTestId("chart-movers"), "le diagramme des plus utilisées");
      await visible(byTestId("chart-consumption"), "le diagramme de consommation");
      await visible(byTestId("report-value-summary"), "le résumé de la valeur du stock");
      await visible(byTestId("report-out-summary"), "le résumé des ruptures");
      await byTestId("reports-group").selectOption("piece");
      await byTestId("reports-apply").click();
      await waitForText(byTestId("table-consumption"), REFERENCE, "la consommation par pièce");
      const [file] = await Promise.all([page.waitForEvent("download"), byTestId("report-movers-csv").click()]);
      const csv = await readFile(await file.path(), "utf8");
      if (!csv.startsWith("piece_id,reference,name,category,quantity,movements,level\r\n") || !csv.includes(`,${REFERENCE},`)) fail(`export CSV inattendu : ${csv.slice(0, 200)}`);
      await shot("rapports");
      await shot("rapports-390px", PHONE);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) fail(`à 390 px, les rapports débordent de ${overflow} px en largeur.`);
      await page.setViewportSize(WIDE);
    });

    await step("Les dix entrées du menu d’un administrateur tiennent sur une ligne, sans chevaucher le compte, de 1181 à 1600 px", async () => {
      for (const width of [1181, 1280, 1440, 1441, 1600]) {
        await page.setViewportSize({ width, height: 800 });
        await goTo("/", "tableau-de-bord");
        const layout = await page.evaluate(() => {
          const links = [...document.querySelectorAll(".app-nav__link")].map((a) => a.getBoundingClientRect());
          const account = document.getElementById("utilisateur-courant").getBoundingClientRect();
          return { count: links.length, lines: new Set(links.map((r) => Math.round(r.top))).size, right: Math.max(...links.map((r) => r.right)), account: account.left };
        });
        if (layout.count !== 10) fail(`${layout.count} entrées de menu au lieu de 10.`);
        if (layout.lines !== 1 || layout.right > layout.account) fail(`à ${width} px, le menu tient sur ${layout.lines} ligne(s) et finit à ${layout.right} px, le compte commence à ${layout.account} px.`);
      }
      await page.setViewportSize(WIDE);
    });

    await step(`Utilisateurs : création du lecteur « ${VIEWER} »`, async () => {
      await clickNav("nav-users", "utilisateurs");
      await byTestId("user-username").fill(VIEWER);
      await byTestId("user-password").fill(VIEWER_PASSWORD);
      await byTestId("user-role").selectOption("viewer");
      await byTestId("user-submit").click();
      await waitForText(byTestId("user-form-message"), "créé", "la confirmation de création");
      await visible(page.locator(`[data-testid="user-row"][data-username="${VIEWER}"]`), "la ligne du nouveau compte");
      await page.locator(`[data-testid="user-row"][data-username="${VIEWER}"] [data-testid="user-journal"]`).click();
      await waitForText(page.locator('[data-testid="journal-dialog"] [data-testid="audit-entry"][data-action="create"]'), "par admin", "la création du compte dans son journal");
      await shot("journal-compte");
      await page.keyboard.press("Escape");
      await shot("utilisateurs");
      await goTo("/compte", "compte");
      await shot("compte");
    });

    await step("Déconnexion puis connexion du lecteur : aucune commande de modification", async () => {
      await byTestId("logout").click();
      await visible(byTestId("page-connexion"), "la page de connexion après déconnexion");
      await waitForText(byTestId("login-notice"), "déconnecté", "le message de déconnexion");
      await login(VIEWER, VIEWER_PASSWORD);
      const role = await textOf(byTestId("current-role"));
      if (role !== "Lecteur") fail(`rôle affiché « ${role} » au lieu de « Lecteur ».`);
      await absent(byTestId("nav-users"), "le menu Utilisateurs");
      await shot("tableau-de-bord-lecteur");

      await clickNav("nav-pieces", "pieces");
      await visible(page.locator(`[data-testid="piece-row"][data-reference="${REFERENCE}"]`), "la pièce dans le catalogue (lecture)");
      await absent(byTestId("new-piece"), "le bouton « Nouvelle pièce »");
      await absent(byTestId("import-toggle"), "l’import CSV");
      await shot("pieces-lecteur");

      await clickNav("nav-stock", "stock");
      await levelInTable(pieceId);
      await absent(byTestId("movement-form"), "le formulaire de mouvement");
      await shot("stock-lecteur");

      await goTo(`/pieces/${pieceId}`, "piece");
      await absent(byTestId("edit-piece"), "le bouton « Modifier »");
      await absent(byTestId("archive-piece"), "le bouton « Archiver »");
      await absent(byTestId("movement-form"), "le formulaire de mouvement de la fiche");
      await shot("fiche-piece-lecteur");

      await goTo("/historique", "historique");
      await absent(byTestId("reverse-movement"), "l’annulation de mouvement");
      await shot("historique-lecteur");

      await goTo("/achats", "a-commander");
      await absent(byTestId("create-orders"), "« Créer les commandes »");
      await goTo(`/commandes/${orderId}`, "commande");
      await absent(byTestId("receive"), "la réception");
      await absent(byTestId("order-cancel"), "l’annulation de commande");
      await shot("commande-lecteur");

      await page.goto(`${UI_URL}/#/utilisateurs`);
      await waitForText(page.locator("h1"), "Accès refusé", "la page Utilisateurs ouverte par son adresse");
      await shot("acces-refuse-lecteur");
    });

    await step(`Le lecteur suit ${REFERENCE} : la rupture qu’un autre cause ensuite arrive à sa cloche, bien que son rôle ne reçoive pas les alertes`, async () => {
      await goTo(`/pieces/${pieceId}`, "piece");
      const follow = byTestId("follow-piece");
      await waitForText(follow, "Suivre", "le bouton « Suivre »");
      await follow.click();
      await waitForText(follow, "Suivie", "la pièce suivie");
      if ((await follow.getAttribute("aria-pressed")) !== "true") fail("le bouton « Suivie » n’est pas enfoncé (aria-pressed).");
      await shot("fiche-piece-suivie-lecteur");
      const before = (await bellCount()) ?? 0;
      // L'administrateur vide chaque emplacement de la pièce, par l'API.
      const call = async (method, path, token, body) => {
        const response = await fetch(`${API_URL}${path}`, { method, headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
        const data = await response.json();
        if (!response.ok) fail(`${method} ${path} : ${response.status} ${JSON.stringify(data)}`);
        return data;
      };
      const { access } = await call("POST", "/api/auth/login/", null, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
      const level = await call("GET", `/api/stock/${pieceId}/`, access);
      for (const place of level.locations.filter((l) => l.quantity > 0)) {
        await call("POST", "/api/stock/movement/", access, { piece_id: pieceId, type: "OUT", quantity: place.quantity, location_id: place.location_id });
      }
      await waitForBell((n) => n > before, "l’alerte de la pièce suivie", ALERT_TIMEOUT);
      await clickNav("nav-notifications", "notifications");
      await waitForText(page.locator('[data-testid="notification"]').first(), REFERENCE, "l’alerte de la pièce suivie dans la liste");
      await shot("notifications-lecteur");
    });

    await step("Déconnexion : retour à la page de connexion, session oubliée", async () => {
      await page.goto(`${UI_URL}/#/`);
      await waitForPage("tableau-de-bord");
      await byTestId("logout").click();
      await visible(byTestId("page-connexion"), "la page de connexion");
      if (await page.locator("#entete").isVisible()) fail("l’en-tête connecté est encore affiché.");
      const keys = await page.evaluate(() => Object.keys(sessionStorage).length + localStorage.length);
      if (keys !== 0) fail(`des jetons restent stockés après la déconnexion (${keys}).`);
      await page.goto(`${UI_URL}/#/stock`);
      await visible(byTestId("page-connexion"), "la redirection vers la connexion sans session");
      await shot("deconnexion");
    });

    await step("Mauvais mot de passe : message d’erreur en français", async () => {
      await byTestId("login-username").fill(VIEWER);
      await byTestId("login-password").fill("pas-le-bon-mot-de-passe");
      await byTestId("login-submit").click();
      await waitForText(byTestId("login-error"), "Nom d’utilisateur ou mot de passe incorrect", "le message d’erreur de connexion");
      if ((await byTestId("page-connexion").count()) !== 1) fail("on devrait rester sur la page de connexion.");
      await shot("connexion-erreur");
    });

    await step("Connexion bloquée (429) après des échecs répétés : le délai est affiché et décompté", async () => {
      // En dernier : le blocage vaut aussi pour ce poste pendant le délai.
      for (let attempt = 1; attempt <= 6; attempt += 1) {
        await byTestId("login-username").fill(VIEWER);
        await byTestId("login-password").fill(`faux-${attempt}`);
        await byTestId("login-submit").click();
        await page.waitForFunction(
          () => document.querySelector('[data-testid="login-submit"]')?.getAttribute("aria-busy") !== "true",
          null,
          { timeout: TIMEOUT },
        ).catch(() => {});
        await page.waitForTimeout(300);
        if (/Trop de tentatives/.test(await textOf(byTestId("login-error")))) break;
      }
      const first = await waitForText(byTestId("login-error"), /Trop de tentatives de connexion\. Réessayez dans \d+ secondes?\./, "le message de blocage");
      if (!(await byTestId("login-submit").isDisabled())) fail("le bouton de connexion devrait être désactivé pendant le délai.");
      await shot("connexion-bloquee");
      const seconds = (text) => Number(/(\d+) seconde/.exec(text)?.[1]);
      await page.waitForTimeout(2100);
      const later = await textOf(byTestId("login-error"));
      if (!(seconds(later) < seconds(first))) fail(`le délai n’est pas décompté : « ${first} » puis « ${later} ».`);
    });

    await step("Aucune erreur JavaScript ni violation de la CSP dans la console", async () => {
      if (problems.length) fail(`${problems.length} message(s) d’erreur :\n         ${problems.join("\n         ")}`);
    });

    console.log(`Parcours réussi : ${stepCount} étapes, ${shotCount} captures dans ${SCREENSHOT_DIR}`);
  } finally {
    await context?.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

main().catch((error) => {
  if (!error?.reported) console.log(`ÉCHEC  ${error?.stack || error}`);
  process.exitCode = 1;
});
