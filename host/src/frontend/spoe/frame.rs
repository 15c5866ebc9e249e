//! SPOP 2.0 wire format (HAProxy's `doc/SPOE.txt`): frames, varints, typed
//! data, KV lists, NOTIFY messages and ACK actions.
//!
//! Decoding never allocates more than the input it was given: every length is
//! checked against the bytes left before anything is copied, and frames are
//! read only up to the negotiated max frame size.

use std::net::{Ipv4Addr, Ipv6Addr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Frame flag: the last fragment of a frame.
pub const FLAG_FIN: u32 = 0x01;
/// Frame flag: abort the fragmented frame being received.
pub const FLAG_ABORT: u32 = 0x02;

/// Frame types.
pub mod kind {
    /// A fragment continuing a frame (fragmentation only).
    pub const UNSET: u8 = 0;
    /// HAProxy opens the connection.
    pub const HAPROXY_HELLO: u8 = 1;
    /// HAProxy closes the connection.
    pub const HAPROXY_DISCONNECT: u8 = 2;
    /// HAProxy sends messages about a stream.
    pub const NOTIFY: u8 = 3;
    /// The agent's answer to HELLO.
    pub const AGENT_HELLO: u8 = 101;
    /// The agent closes the connection.
    pub const AGENT_DISCONNECT: u8 = 102;
    /// The agent's answer to NOTIFY.
    pub const ACK: u8 = 103;
}

/// Smallest max-frame-size the protocol allows.
pub const MIN_FRAME_SIZE: u32 = 256;

/// Why bytes are not a valid SPOP frame (the status codes of DISCONNECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is larger than the negotiated max frame size.
    #[error("frame too big")]
    TooBig,
    /// The bytes do not decode.
    #[error("invalid frame received")]
    Invalid,
    /// HELLO lacks `supported-versions`.
    #[error("version value not found")]
    NoVersion,
    /// HELLO lacks `max-frame-size`.
    #[error("max-frame-size value not found")]
    NoFrameSize,
    /// HELLO lacks `capabilities`.
    #[error("capabilities value not found")]
    NoCapabilities,
    /// No version in common.
    #[error("unsupported version")]
    BadVersion,
    /// `max-frame-size` below the protocol minimum.
    #[error("max-frame-size too big or too small")]
    BadFrameSize,
    /// A fragmented frame, which this agent does not negotiate.
    #[error("payload fragmentation is not supported")]
    Fragmented,
}

impl FrameError {
    /// The DISCONNECT `status-code` for this error.
    pub fn status_code(self) -> u32 {
        match self {
            FrameError::TooBig => 3,
            FrameError::Invalid => 4,
            FrameError::NoVersion => 5,
            FrameError::NoFrameSize => 6,
            FrameError::NoCapabilities => 7,
            FrameError::BadVersion => 8,
            FrameError::BadFrameSize => 9,
            FrameError::Fragmented => 10,
        }
    }
}

/// Typed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// BOOL.
    Bool(bool),
    /// INT32.
    Int32(i32),
    /// UINT32.
    Uint32(u32),
    /// INT64.
    Int64(i64),
    /// UINT64.
    Uint64(u64),
    /// IPV4.
    Ipv4(Ipv4Addr),
    /// IPV6.
    Ipv6(Ipv6Addr),
    /// STRING (bytes, not necessarily UTF-8).
    Str(Vec<u8>),
    /// BINARY.
    Bin(Vec<u8>),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Self {
        Value::Str(s.as_bytes().to_vec())
    }

    /// The value as text (strings, binaries, numbers, addresses); None for NULL.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(b) => b.to_string(),
            Value::Int32(n) => n.to_string(),
            Value::Uint32(n) => n.to_string(),
            Value::Int64(n) => n.to_string(),
            Value::Uint64(n) => n.to_string(),
            Value::Ipv4(a) => a.to_string(),
            Value::Ipv6(a) => a.to_string(),
            Value::Str(b) | Value::Bin(b) => String::from_utf8_lossy(b).into_owned(),
        })
    }

    /// The value as an unsigned integer, if it is a non-negative number.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int32(n) => u64::try_from(n).ok(),
            Value::Uint32(n) => Some(u64::from(n)),
            Value::Int64(n) => u64::try_from(n).ok(),
            Value::Uint64(n) => Some(n),
            _ => None,
        }
    }
}

/// One frame, reassembled: type, flags, ids and undecoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frame type (see [`kind`]).
    pub kind: u8,
    /// Flags ([`FLAG_FIN`], [`FLAG_ABORT`]).
    pub flags: u32,
    /// Stream id (0 for HELLO/DISCONNECT).
    pub stream_id: u64,
    /// Frame id (0 for HELLO/DISCONNECT).
    pub frame_id: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A NOTIFY message: its name and arguments (names may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `spoe-message` name.
    pub name: String,
    /// Arguments in order.
    pub args: Vec<(String, Value)>,
}

/// Variable scopes of SET-VAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `proc.`
    Process = 0,
    /// `sess.`
    Session = 1,
    /// `txn.`
    Transaction = 2,
    /// `req.`
    Request = 3,
    /// `res.`
    Response = 4,
}

/// An ACK action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// SET-VAR scope name value.
    SetVar(Scope, String, Value),
    /// UNSET-VAR scope name.
    UnsetVar(Scope, String),
}

/// A cursor over input bytes; every read is bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.buf.len() {
            return Err(FrameError::Invalid);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, FrameError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A SPOP varint.
    pub fn varint(&mut self) -> Result<u64, FrameError> {
        let first = self.u8()?;
        let mut value = u128::from(first);
        if first < 240 {
            return Ok(u64::from(first));
        }
        let mut shift = 4u32;
        loop {
            if shift > 70 {
                return Err(FrameError::Invalid);
            }
            let b = self.u8()?;
            value += u128::from(b) << shift;
            shift += 7;
            if b < 128 {
                break;
            }
        }
        u64::try_from(value).map_err(|_| FrameError::Invalid)
    }

    /// A varint-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let len = usize::try_from(self.varint()?).map_err(|_| FrameError::Invalid)?;
        self.take(len)
    }

    /// A varint-prefixed string as UTF-8 (lossy).
    pub fn string(&mut self) -> Result<String, FrameError> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    /// Typed data.
    pub fn value(&mut self) -> Result<Value, FrameError> {
        let tag = self.u8()?;
        Ok(match tag & 0x0f {
            0 => Value::Null,
            1 => Value::Bool(tag & 0x10 != 0),
            // HAProxy writes signed integers as the varint of their two's complement.
            2 => Value::Int32(self.varint()? as i32),
            3 => Value::Uint32(u32::try_from(self.varint()?).map_err(|_| FrameError::Invalid)?),
            4 => Value::Int64(self.varint()? as i64),
            5 => Value::Uint64(self.varint()?),
            6 => {
                let b = self.take(4)?;
                Value::Ipv4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            7 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(self.take(16)?);
                Value::Ipv6(Ipv6Addr::from(octets))
            }
            8 => Value::Str(self.bytes()?.to_vec()),
            9 => Value::Bin(self.bytes()?.to_vec()),
            _ => return Err(FrameError::Invalid),
        })
    }
}

/// Decodes a frame (the bytes after its 4-byte length).
pub fn decode_frame(body: &[u8]) -> Result<Frame, FrameError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let flags = r.u32()?;
    let stream_id = r.varint()?;
    let frame_id = r.varint()?;
    Ok(Frame {
        kind,
        flags,
        stream_id,
        frame_id,
        payload: r.buf.to_vec(),
    })
}

/// Decodes a KV list (HELLO, DISCONNECT payloads).
pub fn decode_kv_list(payload: &[u8]) -> Result<Vec<(String, Value)>, FrameError> {
    let mut r = Reader::new(payload);
    let mut list = Vec::new();
    while !r.is_empty() {
        let key = r.string()?;
        list.push((key, r.value()?));
    }
    Ok(list)
}

/// Decodes a NOTIFY payload: a list of messages.
pub fn decode_messages(payload: &[u8]) -> Result<Vec<Message>, FrameError> {
    let mut r = Reader::new(payload);
    let mut messages = Vec::new();
    while !r.is_empty() {
        let name = r.string()?;
        let count = r.u8()?;
        let mut args = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let key = r.string()?;
            args.push((key, r.value()?));
        }
        messages.push(Message { name, args });
    }
    Ok(messages)
}

/// Decodes HAProxy's `req.hdrs_bin`: (name, value) strings ended by two empty ones.
pub fn decode_headers(bin: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    let mut r = Reader::new(bin);
    let mut headers = Vec::new();
    while !r.is_empty() {
        let name = r.string()?;
        let value = r.string()?;
        if name.is_empty() && value.is_empty() {
            break;
        }
        headers.push((name, value));
    }
    Ok(headers)
}

/// Appends a SPOP varint.
pub fn put_varint(out: &mut Vec<u8>, mut i: u64) {
    if i < 240 {
        out.push(i as u8);
        return;
    }
    out.push((i | 240) as u8);
    i = (i - 240) >> 4;
    while i >= 128 {
        out.push((i | 128) as u8);
        i = (i - 128) >> 7;
    }
    out.push(i as u8);
}

/// Appends a varint-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends typed data.
pub fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(if *b { 0x11 } else { 0x01 }),
        Value::Int32(n) => {
            out.push(2);
            put_varint(out, i64::from(*n) as u64);
        }
        Value::Uint32(n) => {
            out.push(3);
            put_varint(out, u64::from(*n));
        }
        Value::Int64(n) => {
            out.push(4);
            put_varint(out, *n as u64);
        }
        Value::Uint64(n) => {
            out.push(5);
            put_varint(out, *n);
        }
        Value::Ipv4(a) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
        Value::Ipv6(a) => {
            out.push(7);
            out.extend_from_slice(&a.octets());
        }
        Value::Str(b) => {
            out.push(8);
            put_bytes(out, b);
        }
        Value::Bin(b) => {
            out.push(9);
            put_bytes(out, b);
        }
    }
}

/// Encodes a KV list.
pub fn encode_kv_list(list: &[(&str, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in list {
        put_bytes(&mut out, k.as_bytes());
        put_value(&mut out, v);
    }
    out
}

/// Encodes ACK actions.
pub fn encode_actions(actions: &[Action]) -> Vec<u8> {
    let mut out = Vec::new();
    for action in actions {
        match action {
            Action::SetVar(scope, name, value) => {
                out.extend_from_slice(&[1, 3, *scope as u8]);
                put_bytes(&mut out, name.as_bytes());
                put_value(&mut out, value);
            }
            Action::UnsetVar(scope, name) => {
                out.extend_from_slice(&[2, 2, *scope as u8]);
                put_bytes(&mut out, name.as_bytes());
            }
        }
    }
    out
}

/// Encodes a frame with its 4-byte length prefix.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let mut body = Vec::with_capacity(frame.payload.len() + 16);
    body.push(frame.kind);
    body.extend_from_slice(&frame.flags.to_be_bytes());
    put_varint(&mut body, frame.stream_id);
    put_varint(&mut body, frame.frame_id);
    body.extend_from_slice(&frame.payload);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Encodes a complete (FIN) connection-level frame (HELLO, DISCONNECT): stream
/// and frame id 0.
pub fn encode_control_frame(kind: u8, payload: Vec<u8>) -> Vec<u8> {
    encode_frame(&Frame {
        kind,
        flags: FLAG_FIN,
        stream_id: 0,
        frame_id: 0,
        payload,
    })
}

/// Reads one frame of at most `max_size` bytes. `Ok(None)` at a clean end of
/// stream; an oversized length is refused before anything is allocated.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_size: u32,
) -> std::io::Result<Option<Result<Frame, FrameError>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len);
    if len > max_size {
        return Ok(Some(Err(FrameError::TooBig)));
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await?;
    Ok(Some(decode_frame(&body)))
}
