//! `/api/purchasing/suppliers/`: who the workshop buys from. A supplier
//! that offers or orders name is archived, never deleted: its orders stay
//! readable.

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::PurchasingError;
use crate::form::Form;
use crate::schema::{NOW, found, inserted_id};

const FIELDS: [&str; 6] = ["name", "contact", "email", "phone", "notes", "archived"];

/// A checked supplier; `None` fields are left as they are (PATCH).
pub struct Change {
    name: Option<String>,
    contact: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    notes: Option<String>,
    archived: Option<bool>,
}

impl Change {
    /// A creation needs a name and starts active.
    pub fn read(body: Json, creating: bool) -> Result<Self, kit::Error> {
        let mut form = Form::new(body, &FIELDS, creating)?;
        if creating && form.has("archived") {
            form.fail(
                "archived",
                "Un fournisseur se crée actif ; archivez-le ensuite.",
            );
        }
        let change = Self {
            name: form.text("name", 200, true),
            contact: form.text("contact", 200, false),
            email: form.text("email", 200, false),
            phone: form.text("phone", 50, false),
            notes: form.text("notes", 2000, false),
            archived: form.boolean("archived"),
        };
        if let Some(email) = &change.email
            && !email.is_empty()
            && !email.contains('@')
        {
            form.fail("email", "Adresse e-mail invalide.");
        }
        form.finish()?;
        Ok(change)
    }
}

const SELECT: &str = "SELECT s.id, s.name, s.contact, s.email, s.phone, s.notes, s.archived, \
        s.created_at, s.updated_at, \
        (SELECT COUNT(*) FROM offers WHERE supplier_id = s.id) AS offers, \
        (SELECT COUNT(*) FROM orders WHERE supplier_id = s.id AND status IN ('sent', 'partial')) AS open_orders \
     FROM suppliers AS s";

/// `GET /api/purchasing/suppliers/`: by name; `q` searches the name,
/// archived ones only with `archived=true`.
pub fn list(
    db: &Connection,
    request: &Request,
    query: &kit::page::Query,
) -> Result<Json, kit::Error> {
    let page = kit::page::Page::from_query(query)?;
    let mut filter = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    match query.get("archived") {
        None | Some("false") => filter.push_str(" AND s.archived = 0"),
        Some("true") => {}
        Some(_) => return Err(kit::Error::field("archived", "true ou false.")),
    }
    if let Some(q) = query.get("q").filter(|q| !q.trim().is_empty()) {
        params.push(Value::Text(format!("%{}%", q.trim())));
        filter.push_str(" AND s.name LIKE ?1");
    }
    let (count, rows) = page.select(
        db,
        &format!("{SELECT}{filter}"),
        "name COLLATE NOCASE, id",
        &params,
    )?;
    page.document(
        request,
        count,
        rows.rows().map(|row| to_json(&row)).collect(),
    )
}

pub fn one(db: &Connection, id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(&format!("{SELECT} WHERE s.id = ?1"), &[Value::Integer(id)])?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(kit::Error::NotFound)
}

pub fn create(db: &Connection, change: &Change) -> Result<i64, kit::Error> {
    let inserted = db
        .execute(
            &format!(
                "INSERT INTO suppliers (name, contact, email, phone, notes, created_at, updated_at) \
                 VALUES (?1, COALESCE(?2, ''), COALESCE(?3, ''), COALESCE(?4, ''), COALESCE(?5, ''), {NOW}, {NOW}) \
                 RETURNING id"
            ),
            &change.values(),
        )
        .map_err(duplicate)?;
    inserted_id(&inserted)
}

pub fn update(db: &Connection, id: i64, change: &Change) -> Result<(), kit::Error> {
    let mut values = change.values();
    values.push(
        change
            .archived
            .map_or(Value::Null, |a| Value::Integer(a.into())),
    );
    values.push(Value::Integer(id));
    let updated = db
        .execute(
            &format!(
                "UPDATE suppliers SET name = COALESCE(?1, name), contact = COALESCE(?2, contact), \
                    email = COALESCE(?3, email), phone = COALESCE(?4, phone), notes = COALESCE(?5, notes), \
                    archived = COALESCE(?6, archived), updated_at = {NOW} \
                 WHERE id = ?7 RETURNING id"
            ),
            &values,
        )
        .map_err(duplicate)?;
    found(&updated)
}

/// Only a supplier nothing names goes; the others are archived instead.
pub fn delete(db: &Connection, id: i64) -> Result<(), kit::Error> {
    let deleted = db.execute(
        "DELETE FROM suppliers WHERE id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM offers WHERE supplier_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM orders WHERE supplier_id = ?1) \
         RETURNING id",
        &[Value::Integer(id)],
    )?;
    if deleted.rows().next().is_some() {
        return Ok(());
    }
    one(db, id)?;
    Err(PurchasingError::SupplierInUse.into())
}

/// The supplier, if it exists and takes new offers and orders.
pub fn usable(db: &Connection, id: i64) -> Result<(), PurchasingError> {
    let rows = db.execute(
        "SELECT archived FROM suppliers WHERE id = ?1",
        &[Value::Integer(id)],
    )?;
    match rows
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("archived"))
    {
        None => Err(PurchasingError::UnknownSupplier),
        Some(0) => Ok(()),
        Some(_) => Err(PurchasingError::ArchivedSupplier),
    }
}

impl Change {
    fn values(&self) -> Vec<Value> {
        [
            &self.name,
            &self.contact,
            &self.email,
            &self.phone,
            &self.notes,
        ]
        .into_iter()
        .map(|field| field.clone().map_or(Value::Null, Value::Text))
        .collect()
    }
}

fn duplicate(error: spin_sdk::sqlite::Error) -> kit::Error {
    if kit::constraint::is_unique_violation(&error, "suppliers.name") {
        PurchasingError::DuplicateSupplier.into()
    } else {
        error.into()
    }
}

fn to_json(row: &Row) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "name": row.get::<&str>("name"),
        "contact": row.get::<&str>("contact"),
        "email": row.get::<&str>("email"),
        "phone": row.get::<&str>("phone"),
        "notes": row.get::<&str>("notes"),
        "archived": row.get::<i64>("archived").unwrap_or(0) != 0,
        "offers": row.get::<i64>("offers").unwrap_or(0),
        "open_orders": row.get::<i64>("open_orders").unwrap_or(0),
        "created_at": row.get::<&str>("created_at"),
        "updated_at": row.get::<&str>("updated_at"),
    })
}
