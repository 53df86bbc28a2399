//! Our host against the real Spin CLI: the same `spin.toml`, the same
//! `.wasm`, the same runtime config, each serving the whole app on one
//! listener (as `spin up` does) from a directory of its own, under the same
//! requests in alternating rounds. Spin runs with its defaults (rollback
//! journal SQLite), our host with its own (WAL, `synchronous=FULL`, writer
//! turns): what a user gets from each.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use xtask::components;
use xtask::process::Log;
use xtask::secrets::Secrets;

use super::servers::{self, Server};
use super::wrk::{Request, Wrk};
use super::{Comparison, INITIAL_LEVEL, ROUND_SECONDS, alternate, http, measure_cpu};

/// Connections of the comparison: one user, then a few at once.
pub const SPIN_CONNECTIONS: [u32; 2] = [1, 8];

/// GET a piece and POST a movement at each of [`SPIN_CONNECTIONS`], host
/// measured against Spin; `None` when this machine has no Spin CLI.
pub fn run(
    root: &Path,
    scratch: &Path,
    secrets: &Secrets,
    token: &str,
    wrk: &Wrk,
    log: &Log,
) -> Result<Option<Vec<Comparison>>> {
    let Some(spin) = xtask::spin::binary(root) else {
        eprintln!(
            "    no Spin CLI ($SPIN, `spin` on PATH or ../shared/tools/spin): host/spin not measured"
        );
        return Ok(None);
    };
    let host = whole_app(
        root,
        &components::release_binary(root, "host"),
        "host",
        scratch,
        secrets,
        log,
    )?;
    let spin = whole_app(root, &spin, "spin", scratch, secrets, log)?;
    let paths = [seed(&host, token)?, seed(&spin, token)?];
    if paths[0] != paths[1] {
        anyhow::bail!("the two runtimes gave different piece ids: {paths:?}");
    }
    let (read_path, move_body) = &paths[0];
    // A read, then a write (its body).
    let scenarios = [
        ("GET /api/pieces/{id}/", None),
        ("POST /api/stock/movement/", Some(move_body.as_str())),
    ];
    let mut comparisons = Vec::new();
    for connections in SPIN_CONNECTIONS {
        for (name, body) in scenarios {
            let request = |server: &Server| match body {
                None => Request::get(&server.base, read_path, Some(token)),
                Some(body) => Request::post_json(&server.base, "/api/stock/movement/", token, body),
            };
            let on_host = request(&host);
            // Spin's rollback journal may answer a busy database with an
            // error under concurrent writers: counted and reported, not fatal.
            let mut on_spin = request(&spin);
            on_spin.errors_expected = true;
            let rounds = alternate(
                &format!("host/spin: {name}, {connections} connection(s)"),
                ROUND_SECONDS,
                &mut [
                    &mut |s| measure_cpu(&[&host], || wrk.run(&on_host, connections, s)),
                    &mut |s| measure_cpu(&[&spin], || wrk.run(&on_spin, connections, s)),
                ],
            )?;
            comparisons.push(Comparison::new(name, "host", "spin", connections, &rounds));
        }
    }
    Ok(Some(comparisons))
}

/// `PROGRAM up` on the repository's `spin.toml` and `runtime-config.toml`,
/// in `scratch/<name>` (its databases in `.data/` there), secrets in the
/// environment, peers by service chaining: the README's Spin commands.
fn whole_app(
    root: &Path,
    program: &Path,
    name: &str,
    scratch: &Path,
    secrets: &Secrets,
    log: &Log,
) -> Result<Server> {
    let dir = scratch.join(name);
    std::fs::create_dir_all(&dir)?;
    let port = servers::free_port()?;
    let mut command = Command::new(program);
    command
        .current_dir(&dir)
        .arg("up")
        .arg("-f")
        .arg(root.join("spin.toml"))
        .arg("--runtime-config-file")
        .arg(root.join("runtime-config.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .envs(secrets.env());
    servers::start(&format!("{name}:app"), command, port, log)
}

/// A piece at [`INITIAL_LEVEL`]: the path that reads it and the body of an
/// OUT of 1 on it.
fn seed(server: &Server, token: &str) -> Result<(String, String)> {
    let piece = http::expect(
        201,
        "POST",
        &format!("{}/api/pieces/", server.base),
        Some(token),
        Some((
            "application/json",
            r#"{"reference":"BENCH-SPIN","name":"Pièce du banc"}"#.to_owned(),
        )),
    )?;
    let id = piece["id"].as_i64().unwrap_or_default();
    http::expect(
        201,
        "POST",
        &format!("{}/api/stock/movement/", server.base),
        Some(token),
        Some((
            "application/json",
            format!(r#"{{"piece_id":{id},"type":"IN","quantity":{INITIAL_LEVEL}}}"#),
        )),
    )?;
    Ok((
        format!("/api/pieces/{id}/"),
        format!(r#"{{"piece_id":{id},"type":"OUT","quantity":1}}"#),
    ))
}
