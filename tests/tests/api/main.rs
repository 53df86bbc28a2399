//! End-to-end tests against the real host serving the repository's `spin.toml`.
//!
//! They need `target/debug/host` and the `.wasm` components, which
//! `cargo xtask test` builds before running them.

mod health;
mod helpers;
mod routing;
mod ui;
