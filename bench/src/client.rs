//! The outbound HTTP/1.1 client of the native stock service: kept-alive
//! connections to pieces, reused across requests, as a native service
//! would (the host's `wasi:http` opens one connection per guest request).

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

const MAX_IDLE: usize = 64;

#[derive(Default)]
pub struct Client {
    idle: Mutex<Vec<SendRequest<Empty<Bytes>>>>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

impl Client {
    /// `GET http://{authority}{path}` with `headers`: status and body.
    pub async fn get(
        &self,
        authority: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Bytes), Failure> {
        let mut sender = match self.reusable() {
            Some(sender) => sender,
            None => connect(authority).await?,
        };
        let mut request = hyper::Request::get(path).header(hyper::header::HOST, authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender.send_request(request.body(Empty::new())?).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE && !sender.is_closed() {
            idle.push(sender);
        }
        Ok((status, body))
    }

    fn reusable(&self) -> Option<SendRequest<Empty<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Empty<Bytes>>, Failure> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
