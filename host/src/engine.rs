//! The one wasmtime `Engine` of a host process.
//!
//! The pooling allocator pre-reserves slots for `max_instances` concurrent
//! instances, so a request's instantiation is a few slot resets instead of
//! fresh mmaps. Epoch interruption lets a guest that computes without
//! calling the host still yield to the runtime, so the request time limit
//! also applies to busy loops and one runaway guest cannot hold a worker
//! thread.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity at which a busy guest
/// yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each memory, table and stack slot reset in place (memset)
/// rather than released to the kernel between two instances.
const KEEP_RESIDENT: usize = 4 << 20;

pub fn new_engine(max_requests: u32, memory_limit: usize) -> anyhow::Result<Engine> {
    // `max_requests` bounds the requests from outside; each may hold a second
    // instance, for a service-chaining call or for the work its guest does
    // after answering, which take no request slot.
    let max_instances = max_requests * 2;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(max_instances)
        // A wasip1 component built by the adapter holds a handful of core
        // instances (the program, the adapter, shims); leave headroom.
        .total_core_instances(max_instances * 8)
        .total_memories(max_instances * 2)
        .total_tables(max_instances * 4)
        .total_stacks(max_instances)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_memory_size(memory_limit)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        // Resetting a slot with memset keeps its pages resident: measured
        // (bench/), madvise + page faults + TLB-shootdown IPIs cost most of
        // a request otherwise. A Rust guest touches a few MiB at most.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT)
        // Fewer, larger decommits: one TLB shootdown for many slots.
        .decommit_batch_size(32)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&config)?;

    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}
