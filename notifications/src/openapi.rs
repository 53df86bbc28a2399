//! The served `openapi.json` and `docs/ROLES.md` describe exactly the
//! route table (see `kit::openapi`).

#[test]
fn the_document_and_the_role_table_match_the_routes() {
    let served = kit::route::served(&crate::SERVICE, crate::ROUTES);
    kit::openapi::check(
        &served,
        crate::SERVICE.openapi,
        include_str!("../../docs/ROLES.md"),
    );
}
