//! The host's behaviours, each proven against the real binary serving the
//! `probe` component (built by the tests for wasip1 and wasip2).

mod helpers;

mod cache;
mod chaining;
mod headers;
mod isolation;
mod lifecycle;
mod outbound;
mod routing;
mod sqlite;
mod variables;
