use crate::helpers::setup;

const VARIABLES: &str = r#"
spin_manifest_version = 2
[application]
name = "variables"
[variables]
greeting = { default = "bonjour" }
api_key = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "reader"
[component.reader]
source = "{probe}"
[component.reader.variables]
message = "{{ greeting }}, {{api_key}}!"
plain = "literal"
"#;

#[test]
fn component_variables_expand_application_variables() {
    let host = setup(VARIABLES)
        .env("SPIN_VARIABLE_API_KEY", "s3cret")
        .start();
    let reply = host.get("/variable?message");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "bonjour, s3cret!")
    );
    assert_eq!(host.get("/variable?plain").body, "literal");
}

#[test]
fn environment_overrides_a_default() {
    let host = setup(VARIABLES)
        .env("SPIN_VARIABLE_API_KEY", "k")
        .env("SPIN_VARIABLE_GREETING", "salut")
        .start();
    assert_eq!(host.get("/variable?message").body, "salut, k!");
}

/// Spin's environment provider reads `.env` in the directory it starts in,
/// after the process environment.
#[test]
fn the_dotenv_file_of_the_working_directory_provides_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "SPIN_VARIABLE_API_KEY=\"from \\\"dotenv\\\"\"\nSPIN_VARIABLE_GREETING=salut\n",
    )
    .unwrap();
    let host = setup(VARIABLES)
        .in_dir(dir)
        .env("SPIN_VARIABLE_GREETING", "hello")
        .start();
    assert_eq!(
        host.get("/variable?message").body,
        r#"hello, from "dotenv"!"#,
        "the environment wins over .env"
    );
}

#[test]
fn a_component_sees_only_its_own_variables() {
    let host = setup(VARIABLES).env("SPIN_VARIABLE_API_KEY", "k").start();
    let reply = host.get("/variable?api_key");
    assert_eq!(reply.status, 500);
    assert!(reply.body.starts_with("Error::Undefined"), "{}", reply.body);
    let reply = host.get("/variable?Not-Valid");
    assert!(
        reply.body.starts_with("Error::InvalidName"),
        "{}",
        reply.body
    );
}

#[test]
fn a_missing_required_variable_stops_the_host_at_start() {
    let err = setup(VARIABLES).start_fails();
    assert!(
        err.contains("api_key") && err.contains("SPIN_VARIABLE_API_KEY"),
        "{err}"
    );
}

#[test]
fn a_template_naming_an_undeclared_variable_stops_the_host() {
    let err = setup(&VARIABLES.replace("{{ greeting }}", "{{ nope }}"))
        .env("SPIN_VARIABLE_API_KEY", "k")
        .start_fails();
    assert!(err.contains("nope") && err.contains("message"), "{err}");
}
