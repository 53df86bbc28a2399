//! End-to-end tests against the real host serving the repository's `spin.toml`,
//! alone or as the whole stack behind Traefik.
//!
//! They need `target/debug/{host,sidecar}` and the `.wasm` components, which
//! `cargo xtask test` builds before running them.

mod audit;
mod auth;
mod backup;
mod browser;
mod faults;
mod fuzz;
mod health;
mod helpers;
mod labels;
mod locations;
mod notifications;
mod pieces;
mod purchasing;
mod receiver;
mod reports;
mod roles;
mod routing;
mod security;
mod spin;
mod stack;
mod stock;
mod stocktakes;
mod supervision;
mod traces;
mod ui;
mod webhooks;
