//! The UI in a real browser: Debian's Chromium, driven by `playwright-core`
//! (`tests/browser/workflow.mjs`), against the whole stack on free ports.
//! Screenshots of every page land in `tests/browser/screenshots/`.

use std::process::Command;

use crate::stack::start_with;

/// Access tokens of this stack live one second, so that the workflow meets
/// an expired token, and a closed session, within a few minutes.
const ACCESS_TOKEN_LIFETIME_SECS: u64 = 1;

#[test]
fn a_new_user_runs_the_stock_workflow_in_the_browser() {
    let root = xtask::project_root().expect("the workspace root");
    let browser = xtask::tools::ensure_browser(&root).expect("chromium and playwright-core");
    let lifetime = ACCESS_TOKEN_LIFETIME_SECS.to_string();
    let running = start_with(
        &[],
        &[("SPIN_VARIABLE_ACCESS_TOKEN_LIFETIME_SECS", &lifetime)],
    );
    let screenshots = browser.scripts.join("screenshots");
    // Only this run's pages: an old capture must not pass for a new one.
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = Command::new("node")
        .arg("workflow.mjs")
        .current_dir(&browser.scripts)
        .env("CHROMIUM", &browser.chromium)
        .env("UI_URL", running.stack.ui_url())
        .env("API_URL", running.stack.web_url())
        .env("ADMIN_USERNAME", &running.secrets.admin_username)
        .env("ADMIN_PASSWORD", &running.secrets.admin_password)
        .env("SCREENSHOT_DIR", &screenshots)
        // Services accept a token `LEEWAY_SECS` past its expiry.
        .env(
            "ACCESS_TOKEN_EXPIRY_SECS",
            (ACCESS_TOKEN_LIFETIME_SECS + kit::auth::LEEWAY_SECS).to_string(),
        )
        .output()
        .expect("node runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the browser workflow failed:\n{report}"
    );
    eprintln!("{report}");
}
