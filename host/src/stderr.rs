//! A guest's stderr, one log event per line, with the component and the
//! request it belongs to (Spin writes the bare lines; a shared log of many
//! requests needs to say whose each is).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::app::LoadedComponent;
use crate::trace::hex;

/// A line longer than this is logged in pieces rather than held.
const MAX_LINE: usize = 16 * 1024;

/// Names are formatted only when a line is written: most requests print
/// nothing.
#[derive(Clone)]
pub struct GuestStderr {
    component: Arc<LoadedComponent>,
    trace_id: [u8; 16],
}

impl GuestStderr {
    pub fn new(component: Arc<LoadedComponent>, trace_id: [u8; 16]) -> Self {
        Self {
            component,
            trace_id,
        }
    }

    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        logline::warn(
            line.trim_end_matches('\r'),
            &[
                ("component", &self.component.id),
                ("request_id", &hex(&self.trace_id)),
            ],
        );
    }
}

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStderr {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(Lines {
            owner: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct Lines {
    owner: GuestStderr,
    pending: Vec<u8>,
}

impl Lines {
    fn emit_rest(&mut self) {
        if !self.pending.is_empty() {
            self.owner.emit(&self.pending);
            self.pending.clear();
        }
    }
}

impl AsyncWrite for Lines {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.pending.extend_from_slice(buf);
        while let Some(end) = this.pending.iter().position(|b| *b == b'\n') {
            this.owner.emit(&this.pending[..end]);
            this.pending.drain(..=end);
        }
        if this.pending.len() > MAX_LINE {
            this.emit_rest();
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().emit_rest();
        Poll::Ready(Ok(()))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.emit_rest();
    }
}
