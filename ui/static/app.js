// Point d'entrée : en-tête, routes (#/...), reprise de session.

import { hasStoredSession, resume, logout, onSessionExpired, onNewTokens } from "./js/api.js";
import { session } from "./js/session.js";
import { startBell, stopBell } from "./js/bell.js";
import { h, replace, icon, loadError } from "./js/dom.js";
import { roleLabel } from "./js/labels.js";
import { ApiError } from "./js/errors.js";

import * as loginPage from "./js/pages/login.js";
import * as dashboardPage from "./js/pages/dashboard.js";
import * as piecesPage from "./js/pages/pieces.js";
import * as pieceFormPage from "./js/pages/piece-form.js";
import * as piecePage from "./js/pages/piece.js";
import * as stockPage from "./js/pages/stock.js";
import * as historyPage from "./js/pages/history.js";
import * as reportsPage from "./js/pages/reports.js";
import * as locationsPage from "./js/pages/locations.js";
import * as countsPage from "./js/pages/counts.js";
import * as countPage from "./js/pages/count.js";
import * as reorderPage from "./js/pages/reorder.js";
import * as ordersPage from "./js/pages/orders.js";
import * as orderPage from "./js/pages/order.js";
import * as suppliersPage from "./js/pages/suppliers.js";
import * as scannerPage from "./js/pages/scanner.js";
import * as labelsPage from "./js/pages/labels.js";
import * as notificationsPage from "./js/pages/notifications.js";
import * as usersPage from "./js/pages/users.js";
import * as accountPage from "./js/pages/account.js";

/** Les routes : motif du chemin, page, rôle minimum, entrée de menu. */
const ROUTES = [
  { path: /^\/connexion$/, page: loginPage, public: true },
  { path: /^\/$/, page: dashboardPage, role: "viewer", nav: "/" },
  { path: /^\/pieces$/, page: piecesPage, role: "viewer", nav: "/pieces" },
  { path: /^\/pieces\/nouvelle$/, page: pieceFormPage, role: "manager", nav: "/pieces" },
  { path: /^\/pieces\/(\d+)$/, page: piecePage, role: "viewer", nav: "/pieces" },
  { path: /^\/pieces\/(\d+)\/modifier$/, page: pieceFormPage, role: "manager", nav: "/pieces" },
  { path: /^\/stock$/, page: stockPage, role: "viewer", nav: "/stock" },
  { path: /^\/emplacements$/, page: locationsPage, role: "viewer", nav: "/emplacements" },
  { path: /^\/inventaires$/, page: countsPage, role: "viewer", nav: "/inventaires" },
  { path: /^\/inventaires\/(\d+)$/, page: countPage, role: "viewer", nav: "/inventaires" },
  { path: /^\/historique$/, page: historyPage, role: "viewer", nav: "/historique" },
  { path: /^\/rapports$/, page: reportsPage, role: "viewer", nav: "/historique" },
  { path: /^\/scanner$/, page: scannerPage, role: "operator", nav: "/scanner" },
  { path: /^\/etiquettes$/, page: labelsPage, role: "viewer" },
  { path: /^\/achats$/, page: reorderPage, role: "viewer", nav: "/achats" },
  { path: /^\/commandes$/, page: ordersPage, role: "viewer", nav: "/achats" },
  { path: /^\/commandes\/(\d+)$/, page: orderPage, role: "viewer", nav: "/achats" },
  { path: /^\/fournisseurs$/, page: suppliersPage, role: "viewer", nav: "/achats" },
  { path: /^\/notifications$/, page: notificationsPage, role: "viewer", nav: "/notifications" },
  { path: /^\/utilisateurs$/, page: usersPage, role: "admin", nav: "/utilisateurs" },
  { path: /^\/compte$/, page: accountPage, role: "viewer", nav: "/compte" },
];

const NAV = [
  { href: "/", label: "Accueil", testid: "nav-dashboard" },
  { href: "/pieces", label: "Pièces", testid: "nav-pieces" },
  { href: "/stock", label: "Stock", testid: "nav-stock" },
  { href: "/scanner", label: "Scanner", testid: "nav-scanner", role: "operator" },
  { href: "/emplacements", label: "Emplacements", testid: "nav-locations" },
  { href: "/inventaires", label: "Inventaires", testid: "nav-counts" },
  { href: "/historique", label: "Historique", testid: "nav-history" },
  { href: "/achats", label: "Achats", testid: "nav-purchasing" },
  { href: "/notifications", label: "Notifications", testid: "nav-notifications" },
  { href: "/utilisateurs", label: "Utilisateurs", testid: "nav-users", role: "admin" },
];

const main = document.getElementById("contenu");
let currentPage = null; // { cleanup, controller }
let ready = false;

// --- Adresses -------------------------------------------------------------------

/** Le chemin et la requête de l'ancre courante (#/pieces?search=x). */
function currentLocation() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, queryString = ""] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(queryString), raw };
}

function navigate(path, { replace: replaceEntry = false } = {}) {
  const target = `#${path}`;
  if (location.hash === target) {
    route();
  } else if (replaceEntry) {
    history.replaceState(null, "", target);
    route();
  } else {
    location.hash = target;
  }
}

/** Met à jour la requête de l'adresse sans redessiner la page. */
function updateQuery(params) {
  const { path } = currentLocation();
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) query.set(key, String(value));
  }
  const qs = query.toString();
  history.replaceState(null, "", `#${path}${qs ? `?${qs}` : ""}`);
}

// --- En-tête ----------------------------------------------------------------------

function renderHeader() {
  const header = document.getElementById("entete");
  const user = session.user;
  header.hidden = !user;
  document.body.classList.toggle("is-logged-in", Boolean(user));
  if (!user) return;
  const list = document.getElementById("nav-liens");
  replace(
    list,
    NAV.filter((item) => !item.role || session.can(item.role)).map((item) =>
      h("li", {}, h("a", { href: `#${item.href}`, class: "app-nav__link", dataset: { testid: item.testid, nav: item.href } }, item.label)),
    ),
  );
  replace(
    document.getElementById("utilisateur-courant"),
    icon("user"),
    h("span", { class: "user-chip__name", text: user.username }),
    h("span", { class: "user-chip__role", dataset: { testid: "current-role" }, text: roleLabel(user.role) }),
  );
  highlightNav();
}

function highlightNav(navPath) {
  const active = navPath ?? matchRoute(currentLocation().path)?.route.nav;
  for (const link of document.querySelectorAll(".app-nav__link")) {
    if (link.dataset.nav === active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const account = document.getElementById("utilisateur-courant");
  if (active === "/compte") account.setAttribute("aria-current", "page");
  else account.removeAttribute("aria-current");
}

function closeMenu() {
  const header = document.getElementById("entete");
  header.classList.remove("app-header--open");
  document.getElementById("menu-bascule").setAttribute("aria-expanded", "false");
}

function setupHeader() {
  const toggle = document.getElementById("menu-bascule");
  toggle.addEventListener("click", () => {
    const header = document.getElementById("entete");
    const open = !header.classList.contains("app-header--open");
    header.classList.toggle("app-header--open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.getElementById("entete").classList.contains("app-header--open")) {
      closeMenu();
      toggle.focus();
    }
  });
  document.getElementById("deconnexion").addEventListener("click", async () => {
    await signOut("deconnexion");
  });
  document.getElementById("lien-evitement").addEventListener("click", (event) => {
    event.preventDefault();
    (main.querySelector("h1") || main).focus();
  });
}

async function signOut(reason) {
  stopBell();
  document.getElementById("annonces").replaceChildren();
  await logout();
  session.clear();
  navigate(`/connexion?raison=${reason}`);
}

// --- Routes -----------------------------------------------------------------------

function matchRoute(path) {
  for (const route of ROUTES) {
    const match = route.path.exec(path);
    if (match) return { route, params: match.slice(1) };
  }
  return null;
}

function teardown() {
  if (!currentPage) return;
  currentPage.controller.abort();
  try {
    currentPage.cleanup?.();
  } catch {
    /* rien */
  }
  currentPage = null;
}

function renderSimple(title, text, linkLabel = "Retour au tableau de bord") {
  document.title = `${title} · Gestion de stock`;
  replace(
    main,
    h(
      "section",
      { class: "page page--narrow" },
      h("h1", { class: "page-title", tabindex: "-1", text: title }),
      h("p", { text }),
      h("p", {}, h("a", { class: "btn", href: "#/" }, linkLabel)),
    ),
  );
  main.querySelector("h1").focus();
}

async function route() {
  if (!ready) return;
  const { path, query, raw } = currentLocation();
  closeMenu();
  const found = matchRoute(path);
  teardown();
  if (!found) {
    renderSimple("Page introuvable", "Cette adresse ne correspond à aucune page de l’application.");
    return;
  }
  const { route: target, params } = found;
  if (!target.public && !session.loggedIn) {
    navigate(`/connexion?retour=${encodeURIComponent(raw)}`, { replace: true });
    return;
  }
  if (target.public && session.loggedIn) {
    navigate(query.get("retour") || "/", { replace: true });
    return;
  }
  document.body.dataset.page = target.page.name || "";
  highlightNav(target.nav);
  if (target.role && !session.can(target.role)) {
    renderSimple(
      "Accès refusé",
      target.role === "admin" ? "Cette page est réservée aux administrateurs." : `Cette page est réservée au rôle ${roleLabel(target.role).toLowerCase()} et au-dessus.`,
    );
    return;
  }
  const controller = new AbortController();
  const container = h("section", { class: ["page", `page--${target.page.name}`], dataset: { testid: `page-${target.page.name}` } });
  replace(main, container);
  document.title = `${target.page.title(params, query)} · Gestion de stock`;
  currentPage = { controller, cleanup: null };
  const context = {
    container,
    params,
    query,
    signal: controller.signal,
    navigate,
    updateQuery,
    afterLogin,
    reload: () => route(),
    setTitle: (title) => {
      document.title = `${title} · Gestion de stock`;
    },
  };
  try {
    currentPage.cleanup = await target.page.render(context);
  } catch (error) {
    if (error?.name === "AbortError" || controller.signal.aborted) return;
    if (error instanceof ApiError && error.status === 401) return; // session expirée : redirigé
    console.error(error);
    replace(container, loadError(error instanceof ApiError ? error.french() : "Cette page n’a pas pu s’afficher.", () => route()));
  }
  // Le focus va au titre de la nouvelle page (les lecteurs d'écran
  // l'annoncent), sauf si la page l'a déjà placé dans un de ses champs.
  if (!controller.signal.aborted && !container.contains(document.activeElement)) {
    container.querySelector("h1")?.focus({ preventScroll: true });
  }
}

// --- Démarrage --------------------------------------------------------------------

async function boot() {
  setupHeader();
  session.onChange((user) => {
    renderHeader();
    if (user) startBell();
    else stopBell();
  });
  onNewTokens((tokenClaims) => session.updateFromClaims(tokenClaims));
  onSessionExpired(() => {
    if (!session.loggedIn) return;
    stopBell();
    session.clear();
    const { raw } = currentLocation();
    const back = raw.startsWith("/connexion") ? "" : `&retour=${encodeURIComponent(raw)}`;
    navigate(`/connexion?raison=expiree${back}`, { replace: true });
  });
  window.addEventListener("hashchange", () => {
    route();
    window.scrollTo(0, 0);
  });

  if (hasStoredSession()) {
    try {
      const user = await resume();
      session.set(user);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        ready = true;
        navigate(`/connexion?raison=expiree&retour=${encodeURIComponent(currentLocation().raw)}`, { replace: true });
        return;
      }
      replace(
        main,
        h(
          "section",
          { class: "page page--narrow" },
          h("h1", { class: "page-title", tabindex: "-1", text: "Gestion de stock" }),
          loadError(error instanceof ApiError ? error.french() : "L’interface n’a pas pu démarrer.", () => location.reload()),
        ),
      );
      return;
    }
  }
  ready = true;
  route();
}

// Utilisé par la page de connexion.
function afterLogin(user, query) {
  session.set(user);
  const back = query.get("retour");
  navigate(back && back.startsWith("/") && !back.startsWith("/connexion") ? back : "/", { replace: true });
}

boot();
