//! What one request's `Store` holds: WASI contexts, the component's grants,
//! and the outbound HTTP policy. A fresh `State` per request, so nothing a
//! guest does survives into the next request but its databases.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::app::LoadedComponent;
use crate::outbound_http::{Chain, OutboundPolicy};
use crate::stderr::GuestStderr;
use crate::trace::TraceContext;

pub struct State {
    pub component: Arc<LoadedComponent>,
    pub table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundPolicy,
    limits: StoreLimits,
    /// When this request's time is up: SQLite statements still running
    /// then are interrupted (`sqlite.rs`).
    pub deadline: Instant,
}

impl State {
    pub fn new(
        component: Arc<LoadedComponent>,
        self_addr: SocketAddr,
        chain: Arc<dyn Chain>,
        deadline: Instant,
        trace: &TraceContext,
    ) -> anyhow::Result<Self> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .stderr(GuestStderr::new(component.clone(), trace.trace_id));
        for (key, value) in &component.environment {
            wasi.env(key, value);
        }
        for mount in &component.files {
            wasi.preopened_dir(&mount.host, &mount.guest, wasmtime_wasi::FsPerms::ReadOnly)?;
        }
        let outbound = OutboundPolicy::new(
            component.outbound.clone(),
            self_addr,
            component.connections.clone(),
            chain,
            trace.clone(),
        );
        let limits = StoreLimitsBuilder::new()
            .memory_size(component.memory_limit)
            .build();
        Ok(Self {
            component,
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound,
            limits,
            deadline,
        })
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
