//! The served `openapi.json` documents exactly the routes of `fn route`
//! (see `kit::openapi`).

#[test]
fn the_document_matches_the_router() {
    kit::openapi::check(include_str!("lib.rs"), crate::OPENAPI, "/api/stock");
}
