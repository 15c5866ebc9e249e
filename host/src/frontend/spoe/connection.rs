//! One SPOP connection: HELLO negotiation, then NOTIFY frames answered by ACKs,
//! several in flight at once (pipelining), until DISCONNECT.

use std::sync::Arc;

use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::mpsc,
    task::JoinSet,
};

use crate::{
    listener::{activity::Activity, ConnLimits, Drain},
    router::Router,
};

use super::{
    actions::{to_actions, undeliverable, UNDELIVERABLE_STATUS},
    frame::{
        decode_kv_list, decode_messages, encode_actions, encode_control_frame, encode_frame,
        encode_kv_list, kind, read_frame, Action, Frame, FrameError, Value, FLAG_ABORT, FLAG_FIN,
        MIN_FRAME_SIZE,
    },
    translate::to_request,
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

/// Why the agent closes a connection: SPOP status code and message.
type Closing = Option<(u32, String)>;

/// SPOP status "a timeout occurred".
const STATUS_TIMEOUT: u32 = 2;

/// Serves one connection until HAProxy disconnects, an error, its HELLO or idle
/// time runs over (`limits`), or `drain`: then the NOTIFYs in flight finish (or
/// are cut at the drain timeout, unanswered) and AGENT-DISCONNECT goes out.
pub async fn serve<S>(
    stream: S,
    router: Arc<Router>,
    max_frame_size: u32,
    limits: &ConnLimits,
    drain: &Drain,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    let Some(hello) = handshake(&mut reader, &mut writer, max_frame_size, limits, drain).await?
    else {
        return writer.shutdown().await;
    };
    // ACKs are written by one task, in the order their chains finish; it stops
    // after the AGENT-DISCONNECT.
    let (tx, rx) = mpsc::channel::<Vec<u8>>(MAX_IN_FLIGHT);
    let write_task = tokio::spawn(write_frames(writer, rx));
    let mut session = Session {
        router,
        max: hello.max_frame_size,
        tx,
        notifies: JoinSet::new(),
        activity: Activity::new(),
    };
    let closing = session.notify_loop(&mut reader, limits, drain).await;
    session.finish(closing, drain).await;
    match tokio::time::timeout(limits.header_timeout, write_task).await {
        Ok(written) => written.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        Err(_) => Err(std::io::Error::other(
            "HAProxy does not read; connection cut",
        )),
    }
}

/// HELLO within the header timeout, answered with AGENT-HELLO; `None` when the
/// connection is done (closed, refused, a health check, or the drain started).
async fn handshake<R, W>(
    reader: &mut R,
    writer: &mut W,
    max_frame_size: u32,
    limits: &ConnLimits,
    drain: &Drain,
) -> std::io::Result<Option<Hello>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let hello = tokio::select! {
        hello = tokio::time::timeout(limits.header_timeout, read_hello(reader, max_frame_size)) => hello,
        _ = drain.stopping() => return Ok(None),
    };
    let hello = match hello {
        Err(_) => Err((STATUS_TIMEOUT, "no HELLO in time".to_string())),
        Ok(hello) => match hello? {
            None => return Ok(None),
            Some(hello) => hello.map_err(|e| (e.status_code(), e.to_string())),
        },
    };
    let hello = match hello {
        Ok(hello) => hello,
        Err((status, message)) => {
            tracing::warn!(status, %message, "SPOE HELLO refused");
            writer.write_all(&disconnect(status, &message)).await?;
            return Ok(None);
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
    Ok((!hello.healthcheck).then_some(hello))
}

/// Reads HAProxy's HELLO and negotiates; `None` when the connection closed first.
async fn read_hello<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_frame_size: u32,
) -> std::io::Result<Option<Result<Hello, FrameError>>> {
    Ok(match read_frame(reader, max_frame_size).await? {
        None => None,
        Some(Ok(frame)) if frame.kind == kind::HAPROXY_HELLO => {
            Some(negotiate(&frame.payload, max_frame_size))
        }
        Some(Ok(_)) => Some(Err(FrameError::Invalid)),
        Some(Err(e)) => Some(Err(e)),
    })
}

/// Writes `frames` in order; stops after an AGENT-DISCONNECT, then closes.
async fn write_frames<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut frames: mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    while let Some(bytes) = frames.recv().await {
        writer.write_all(&bytes).await?;
        if bytes.get(4) == Some(&kind::AGENT_DISCONNECT) {
            break;
        }
    }
    writer.shutdown().await
}

/// A connection after HELLO: its chains in flight and where their ACKs go.
struct Session {
    router: Arc<Router>,
    max: u32,
    tx: mpsc::Sender<Vec<u8>>,
    notifies: JoinSet<()>,
    activity: Arc<Activity>,
}

impl Session {
    /// Reads frames and starts a chain per NOTIFY (at most [`MAX_IN_FLIGHT`]
    /// at once), until the connection should close, and why.
    async fn notify_loop<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        limits: &ConnLimits,
        drain: &Drain,
    ) -> Closing {
        loop {
            // Reading a frame is not cancel-safe: every other branch ends the loop.
            let frame = tokio::select! {
                frame = read_frame(reader, self.max) => frame,
                _ = drain.stopping() => return Some((0, "agent shutting down".to_string())),
                _ = self.activity.idle(limits.idle_timeout) => return Some((0, "idle timeout".to_string())),
            };
            let frame = match frame {
                Ok(None) => return None,
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => return Some((e.status_code(), e.to_string())),
                Err(e) => {
                    tracing::debug!(error = %e, "SPOE connection read failed");
                    return None;
                }
            };
            match frame.kind {
                kind::NOTIFY if frame.flags & FLAG_ABORT != 0 => continue,
                kind::NOTIFY if frame.flags & FLAG_FIN == 0 => {
                    let e = FrameError::Fragmented;
                    return Some((e.status_code(), e.to_string()));
                }
                kind::NOTIFY => {
                    if !self.start(frame, drain).await {
                        return None;
                    }
                }
                kind::HAPROXY_DISCONNECT => return Some((0, "normal".to_string())),
                _ => {
                    let e = FrameError::Invalid;
                    return Some((e.status_code(), e.to_string()));
                }
            }
        }
    }

    /// Starts the chain for one NOTIFY once a slot is free (backpressure: the
    /// next frame waits); false when the drain timeout passed meanwhile.
    async fn start(&mut self, frame: Frame, drain: &Drain) -> bool {
        while self.notifies.try_join_next().is_some() {}
        if self.notifies.len() >= MAX_IN_FLIGHT {
            tokio::select! {
                _ = self.notifies.join_next() => {}
                _ = drain.aborting() => return false,
            }
        }
        let (router, tx, max) = (self.router.clone(), self.tx.clone(), self.max);
        let busy = self.activity.begin();
        self.notifies.spawn(async move {
            let ack = answer(&router, frame, max).await;
            let _ = tx.send(ack).await;
            drop(busy);
        });
        true
    }

    /// Lets the ACKs in flight go out (until the drain timeout: the rest are
    /// never answered), then sends AGENT-DISCONNECT when there is a reason.
    async fn finish(mut self, mut closing: Closing, drain: &Drain) {
        let cut = tokio::select! {
            _ = async { while self.notifies.join_next().await.is_some() {} } => false,
            _ = drain.aborting() => true,
        };
        if cut {
            self.notifies.abort_all();
            closing = Some((0, "agent shutting down: drain timeout".to_string()));
        }
        if let Some((status, message)) = closing {
            if status != 0 {
                tracing::warn!(status, %message, "SPOE connection closed on error");
            }
            let _ = self.tx.send(disconnect(status, &message)).await;
        }
    }
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
    let ack = |actions: &[Action]| {
        encode_frame(&Frame {
            kind: kind::ACK,
            flags: FLAG_FIN,
            stream_id: frame.stream_id,
            frame_id: frame.frame_id,
            payload: encode_actions(actions),
        })
    };
    let why = match to_actions(&decision) {
        Ok(actions) => {
            let bytes = ack(&actions);
            if bytes.len() - 4 <= max_frame_size as usize {
                return bytes;
            }
            format!(
                "ACK of {} bytes over the max frame size {max_frame_size}",
                bytes.len() - 4
            )
        }
        Err(why) => why,
    };
    tracing::warn!(
        reason = %why,
        status = UNDELIVERABLE_STATUS,
        "decision cannot be sent whole over SPOE; denied"
    );
    ack(&undeliverable())
}
