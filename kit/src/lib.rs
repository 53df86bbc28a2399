//! What the Spin components share, and nothing else.
//!
//! A component's `lib.rs` reads as its route table ([`route`]): method, path,
//! who may call, handler; [`route::dispatch`] serves it, and any [`Error`] a
//! handler returns becomes a problem-JSON response in one place ([`error`]).
//! A service describes itself once as a [`Service`]; opening its database
//! through it applies the pending [`migrate`] steps, and [`health::check`]
//! answers its health route with a real query on that database.
//! [`auth`] is the one bearer-token check and role comparison every service
//! uses; [`body`] reads JSON request bodies; [`peer`] calls another service's
//! internal routes; [`text::fold`] is how every
//! service's search compares text; [`labels`] draws label sheets.
//!
//! **Architecture Invariant:** kit knows no service by name and owns no table
//! but `schema_version`; services pass their name, label and migrations in.

pub mod audit;
pub mod auth;
pub mod body;
pub mod constraint;
pub mod csv;
pub mod error;
pub mod health;
pub mod labels;
pub mod migrate;
#[cfg(feature = "openapi-check")]
pub mod openapi;
pub mod page;
pub mod peer;
pub mod route;
mod service;
pub mod text;

pub use error::Error;
pub use service::Service;
