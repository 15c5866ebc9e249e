//! A minimal Redis client for the session store: `SET key value EX n`, `GET`,
//! `DEL` over RESP2, one kept-alive connection (reopened after any error),
//! every command bounded by a timeout and replies by a size cap.

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    sync::Mutex,
};

/// The largest bulk reply accepted (a sealed session is far smaller).
pub const MAX_REPLY: usize = 256 * 1024;

/// One Redis server.
pub struct Redis {
    address: String,
    timeout: Duration,
    conn: Mutex<Option<BufReader<TcpStream>>>,
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other simple strings.
    Simple(String),
    /// An integer.
    Int(i64),
    /// A bulk string; None for nil.
    Bulk(Option<Vec<u8>>),
}

impl Redis {
    /// A client for `address` (`host:port`); connects on first use.
    pub fn new(address: &str, timeout: Duration) -> Self {
        Self {
            address: address.to_string(),
            timeout,
            conn: Mutex::new(None),
        }
    }

    /// Stores `value` under `key` for `seconds`.
    pub async fn set(&self, key: &str, value: &str, seconds: u64) -> Result<(), String> {
        let ttl = seconds.max(1).to_string();
        match self.command(&["SET", key, value, "EX", &ttl]).await? {
            Reply::Simple(s) if s == "OK" => Ok(()),
            other => Err(format!("SET answered {other:?}")),
        }
    }

    /// The value under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        match self.command(&["GET", key]).await? {
            Reply::Bulk(v) => Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned())),
            other => Err(format!("GET answered {other:?}")),
        }
    }

    /// Removes `key`.
    pub async fn del(&self, key: &str) -> Result<(), String> {
        match self.command(&["DEL", key]).await? {
            Reply::Int(_) => Ok(()),
            other => Err(format!("DEL answered {other:?}")),
        }
    }

    /// Sends one command and reads its reply, within the timeout.
    pub async fn command(&self, args: &[&str]) -> Result<Reply, String> {
        let mut conn = self.conn.lock().await;
        let result = tokio::time::timeout(self.timeout, async {
            if conn.is_none() {
                let stream = TcpStream::connect(&self.address)
                    .await
                    .map_err(|e| format!("connect {}: {e}", self.address))?;
                *conn = Some(BufReader::new(stream));
            }
            let Some(stream) = conn.as_mut() else {
                return Err("no connection".to_string());
            };
            stream
                .get_mut()
                .write_all(&encode(args))
                .await
                .map_err(|e| format!("write: {e}"))?;
            read_reply(stream).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)));
        if result.is_err() {
            *conn = None;
        }
        result
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = Vec::new();
    let mut limited = (&mut *stream).take(4096);
    limited
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if !line.ends_with(b"\r\n") {
        return Err("connection closed or line too long".into());
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| "reply is not UTF-8".into())
}

async fn read_reply(stream: &mut BufReader<TcpStream>) -> Result<Reply, String> {
    let line = read_line(stream).await?;
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => Err(format!("redis error: {rest}")),
        ":" => rest
            .parse()
            .map(Reply::Int)
            .map_err(|_| format!("bad integer reply {rest:?}")),
        "$" => {
            let len: i64 = rest
                .parse()
                .map_err(|_| format!("bad bulk length {rest:?}"))?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| "bulk length".to_string())?;
            if len > MAX_REPLY {
                return Err(format!("reply of {len} bytes exceeds {MAX_REPLY}"));
            }
            let mut body = vec![0u8; len + 2];
            stream
                .read_exact(&mut body)
                .await
                .map_err(|e| format!("read: {e}"))?;
            body.truncate(len);
            Ok(Reply::Bulk(Some(body)))
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}
