//! The served `openapi.json` and `docs/ROLES.md` describe exactly the
//! route table (see `kit::openapi`).

const OPENAPI: &str = crate::SERVICE.openapi;

#[test]
fn the_document_and_the_role_table_match_the_routes() {
    kit::openapi::check_service(&crate::SERVICE, crate::ROUTES);
}

#[test]
fn the_documented_movement_examples_are_valid_orders() {
    let document: serde_json::Value = serde_json::from_str(OPENAPI).expect("JSON");
    let examples = document["paths"]["/api/stock/movement/"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"]
        .as_object()
        .expect("examples");
    assert!(!examples.is_empty());
    for (name, example) in examples {
        let input: crate::order::Input =
            serde_json::from_value(example["value"].clone()).expect("the input shape");
        assert!(input.validate().is_ok(), "{name}");
    }
}

#[test]
fn page_sizes_are_capped_not_refused() {
    let document: serde_json::Value = serde_json::from_str(OPENAPI).expect("JSON");
    for path in ["/api/stock/", "/api/stock/movements/"] {
        let parameters = document["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let size = parameters
            .iter()
            .find(|p| p["name"] == "page_size")
            .expect("page_size");
        assert!(size["schema"].get("maximum").is_none(), "{path}");
        assert_eq!(
            kit::page::Page::from_query(&kit::page::Query::parse("page_size=201"))
                .map(|page| page.size)
                .ok(),
            Some(kit::page::MAX_SIZE)
        );
        assert!(
            parameters
                .iter()
                .all(|p| p["in"] != "query" || p["allowEmptyValue"] == true),
            "{path}: an empty query parameter is an absent one"
        );
    }
}
