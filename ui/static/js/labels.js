// Libellés français des valeurs de l'API (rôles, types, motifs, statuts,
// noms de champs).

export const ROLES = ["viewer", "operator", "manager", "admin"];

export const ROLE_LABELS = {
  viewer: "Lecteur",
  operator: "Magasinier",
  manager: "Gestionnaire",
  admin: "Administrateur",
};

export const ROLE_DESCRIPTIONS = {
  viewer: "consulte le catalogue, le stock et l’historique",
  operator: "enregistre aussi les entrées, les sorties, les transferts et les comptages",
  manager: "gère aussi le catalogue, les emplacements, les ajustements, les inventaires et les annulations",
  admin: "gère aussi les comptes utilisateurs",
};

export const MOVEMENT_TYPES = {
  IN: "Entrée",
  OUT: "Sortie",
  ADJUST: "Ajustement",
  TRANSFER: "Transfert",
};

export const REASONS = {
  reception: "Réception",
  consumption: "Consommation",
  return: "Retour",
  inventory: "Inventaire",
  damaged: "Endommagé",
  lost: "Perdu",
  found: "Retrouvé",
  correction: "Correction",
  other: "Autre",
  reversal: "Annulation",
};

export const COUNT_STATUSES = {
  open: "Ouvert",
  validated: "Validé",
  cancelled: "Annulé",
};

export const STATUS_LABELS = {
  ok: "OK",
  low: "Bas",
  out: "Rupture",
};

export const NOTIFICATION_TYPES = {
  low_stock: "Stock bas",
  out_of_stock: "Rupture de stock",
  back_in_stock: "Retour en stock",
  manual: "Message",
};

/** Noms de champs de l'API -> libellés des formulaires. */
export const FIELD_LABELS = {
  reference: "Référence",
  name: "Nom",
  description: "Description",
  category: "Catégorie",
  unit: "Unité",
  price: "Prix",
  min_stock: "Seuil minimum",
  location: "Emplacement",
  barcode: "Code-barres",
  archived: "Archivée",
  version: "Version",
  piece_id: "Pièce",
  type: "Type",
  quantity: "Quantité",
  reason: "Motif",
  note: "Note",
  username: "Nom d’utilisateur",
  password: "Mot de passe",
  old_password: "Mot de passe actuel",
  new_password: "Nouveau mot de passe",
  role: "Rôle",
  is_active: "Compte actif",
  title: "Titre",
  message: "Message",
  audience: "Destinataires",
  stock_alerts: "Alertes de stock",
  categories: "Catégories",
  search: "Recherche",
  ordering: "Tri",
  date_from: "Du",
  date_to: "Au",
  user: "Utilisateur",
  status: "Statut",
  page: "Page",
  location_id: "Emplacement",
  from_location_id: "Depuis",
  to_location_id: "Vers",
  parent_id: "Parent",
  code: "Code",
  lines: "Lignes",
  price_cents: "Prix",
};

export function roleLabel(role) {
  return ROLE_LABELS[role] || role;
}

export function rank(role) {
  return ROLES.indexOf(role);
}
