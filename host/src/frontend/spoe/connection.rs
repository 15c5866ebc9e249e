//! One SPOP connection: HELLO negotiation, then NOTIFY frames answered by ACKs,
//! several in flight at once (pipelining), until DISCONNECT.

use std::sync::Arc;

use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::{mpsc, Semaphore},
};
use tokio_util::sync::CancellationToken;

use crate::router::Router;

use super::{
    frame::{
        decode_kv_list, decode_messages, encode_actions, encode_control_frame, encode_frame,
        encode_kv_list, kind, read_frame, Frame, FrameError, Value, FLAG_ABORT, FLAG_FIN,
        MIN_FRAME_SIZE,
    },
    translate::{to_actions, to_request},
};

/// The SPOP version this agent speaks.
pub const VERSION: &str = "2.0";
/// Capabilities this agent offers; the reply is their intersection with HAProxy's.
/// `fragmentation` is not offered: a fragmented frame gets DISCONNECT status 10.
pub const CAPABILITIES: &[&str] = &["pipelining", "async"];
/// NOTIFY frames answered concurrently per connection; more wait (backpressure).
const MAX_IN_FLIGHT: usize = 256;

/// What HELLO settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The negotiated max frame size.
    pub max_frame_size: u32,
    /// The capabilities both sides support, comma-separated.
    pub capabilities: String,
    /// True for a health check: answer HELLO, then close.
    pub healthcheck: bool,
}

/// Negotiates from HAProxy's HELLO payload, capping the frame size at `ours`.
pub fn negotiate(payload: &[u8], ours: u32) -> Result<Hello, FrameError> {
    let list = decode_kv_list(payload)?;
    let get = |key: &str| list.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let versions = get("supported-versions")
        .and_then(Value::text)
        .ok_or(FrameError::NoVersion)?;
    if !versions.split(',').any(|v| v.trim() == VERSION) {
        return Err(FrameError::BadVersion);
    }
    let theirs = get("max-frame-size")
        .and_then(Value::as_u64)
        .ok_or(FrameError::NoFrameSize)?;
    let max_frame_size = u32::try_from(theirs.min(u64::from(ours))).unwrap_or(ours);
    if max_frame_size < MIN_FRAME_SIZE {
        return Err(FrameError::BadFrameSize);
    }
    let offered = get("capabilities")
        .and_then(Value::text)
        .ok_or(FrameError::NoCapabilities)?;
    let capabilities = offered
        .split(',')
        .map(str::trim)
        .filter(|c| CAPABILITIES.contains(c))
        .collect::<Vec<_>>()
        .join(",");
    let healthcheck = matches!(get("healthcheck"), Some(Value::Bool(true)));
    Ok(Hello {
        max_frame_size,
        capabilities,
        healthcheck,
    })
}

/// An AGENT-DISCONNECT frame.
pub fn disconnect(status: u32, message: &str) -> Vec<u8> {
    encode_control_frame(
        kind::AGENT_DISCONNECT,
        encode_kv_list(&[
            ("status-code", Value::Uint32(status)),
            ("message", Value::str(message)),
        ]),
    )
}

/// Serves one connection until HAProxy disconnects, an error, or `stop`.
pub async fn serve<S>(
    stream: S,
    router: Arc<Router>,
    max_frame_size: u32,
    stop: CancellationToken,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    let hello = match read_frame(&mut reader, max_frame_size).await? {
        None => return Ok(()),
        Some(Ok(frame)) if frame.kind == kind::HAPROXY_HELLO => {
            negotiate(&frame.payload, max_frame_size)
        }
        Some(Ok(_)) => Err(FrameError::Invalid),
        Some(Err(e)) => Err(e),
    };
    let hello = match hello {
        Ok(hello) => hello,
        Err(e) => {
            tracing::warn!(error = %e, "SPOE HELLO refused");
            writer
                .write_all(&disconnect(e.status_code(), &e.to_string()))
                .await?;
            return writer.shutdown().await;
        }
    };
    let reply = encode_kv_list(&[
        ("version", Value::str(VERSION)),
        ("max-frame-size", Value::Uint32(hello.max_frame_size)),
        ("capabilities", Value::str(&hello.capabilities)),
    ]);
    writer
        .write_all(&encode_control_frame(kind::AGENT_HELLO, reply))
        .await?;
    if hello.healthcheck {
        return writer.shutdown().await;
    }

    // ACKs are written by one task, in the order their chains finish.
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(MAX_IN_FLIGHT);
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            writer.write_all(&bytes).await?;
        }
        writer.shutdown().await
    });
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let max = hello.max_frame_size;
    let closing = loop {
        let frame = tokio::select! {
            frame = read_frame(&mut reader, max) => frame,
            _ = stop.cancelled() => break Some((0, "agent shutting down".to_string())),
        };
        let frame = match frame {
            Ok(None) => break None,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => break Some((e.status_code(), e.to_string())),
            Err(e) => {
                tracing::debug!(error = %e, "SPOE connection read failed");
                break None;
            }
        };
        match frame.kind {
            kind::NOTIFY if frame.flags & FLAG_ABORT != 0 => continue,
            kind::NOTIFY if frame.flags & FLAG_FIN == 0 => {
                let e = FrameError::Fragmented;
                break Some((e.status_code(), e.to_string()));
            }
            kind::NOTIFY => {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break None;
                };
                let (router, tx) = (router.clone(), tx.clone());
                tokio::spawn(async move {
                    let ack = answer(&router, frame, max).await;
                    let _ = tx.send(ack).await;
                    drop(permit);
                });
            }
            kind::HAPROXY_DISCONNECT => break Some((0, "normal".to_string())),
            _ => {
                let e = FrameError::Invalid;
                break Some((e.status_code(), e.to_string()));
            }
        }
    };
    // Let the ACKs in flight go out first, then say goodbye.
    let _ = permits.acquire_many(MAX_IN_FLIGHT as u32).await;
    if let Some((status, message)) = closing {
        if status != 0 {
            tracing::warn!(status, %message, "SPOE connection closed on error");
        }
        let _ = tx.send(disconnect(status, &message)).await;
    }
    drop(tx);
    write_task
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// Runs one NOTIFY through the router and encodes the ACK (or a DISCONNECT-less
/// deny when the payload does not decode: the chain never sees a broken request).
async fn answer(router: &Router, frame: Frame, max_frame_size: u32) -> Vec<u8> {
    let decision = match decode_messages(&frame.payload) {
        Ok(messages) => router.decide(&to_request(&messages)).await,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable NOTIFY payload; denied");
            crate::model::Decision::Deny(crate::model::Denied {
                status: 400,
                body: String::new(),
                headers: Vec::new(),
                reason: e.to_string(),
            })
        }
    };
    let ack = |full: bool| {
        encode_frame(&Frame {
            kind: kind::ACK,
            flags: FLAG_FIN,
            stream_id: frame.stream_id,
            frame_id: frame.frame_id,
            payload: encode_actions(&to_actions(&decision, full)),
        })
    };
    let bytes = ack(true);
    if bytes.len() - 4 <= max_frame_size as usize {
        return bytes;
    }
    tracing::warn!(
        size = bytes.len() - 4,
        max_frame_size,
        "ACK larger than the max frame size; sending the verdict without headers"
    );
    ack(false)
}
