//! The health route every service answers, and Consul checks.

use serde_json::{Value, json};
use spin_sdk::http::Response;

use crate::{Error, Service};

/// 200 `{"service", "version", "database": "ok"}` after a real query on the
/// service's own database (migrations included, so a schema that cannot be
/// applied shows here), else 503 with `"database": "unavailable"` and a
/// client-safe `detail`.
pub fn check(service: &Service) -> Response {
    let outcome = probe(service);
    if let Err(error) = &outcome {
        error.log();
    }
    let status = if outcome.is_ok() { 200 } else { 503 };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(document(service, &outcome).to_string())
        .build()
}

fn probe(service: &Service) -> Result<(), Error> {
    service.database()?.execute("SELECT 1", &[])?;
    Ok(())
}

fn document(service: &Service, outcome: &Result<(), Error>) -> Value {
    let mut document = json!({
        "service": service.name,
        "version": service.version,
        "database": "ok",
    });
    if let Err(error) = outcome {
        document["database"] = json!("unavailable");
        document["detail"] = json!(error.to_string());
    }
    document
}

#[cfg(test)]
mod tests {
    use spin_sdk::sqlite;

    use super::*;

    const SERVICE: Service = Service {
        name: "auth",
        version: "0.1.0",
        database: "auth",
        migrations: &[],
        openapi: "{}",
    };

    #[test]
    fn healthy_document_has_no_detail() {
        assert_eq!(
            document(&SERVICE, &Ok(())),
            json!({ "service": "auth", "version": "0.1.0", "database": "ok" })
        );
    }

    #[test]
    fn unavailable_document_carries_a_safe_detail() {
        let failure = Err(Error::Database(sqlite::Error::Io(
            "no such table: secrets".into(),
        )));
        assert_eq!(
            document(&SERVICE, &failure),
            json!({
                "service": "auth",
                "version": "0.1.0",
                "database": "unavailable",
                "detail": "La base de données n'a pas pu être interrogée.",
            })
        );
    }
}
