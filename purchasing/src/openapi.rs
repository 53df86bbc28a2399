//! The served `openapi.json` and `docs/ROLES.md` describe exactly the
//! route table (see `kit::openapi`).

#[test]
fn the_document_and_the_role_table_match_the_routes() {
    kit::openapi::check_service(&crate::SERVICE, crate::ROUTES);
}
