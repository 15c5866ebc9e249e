//! One check over HTTP/1.1, as Envoy's HTTP-mode ext_authz sends it.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use crate::Error;

/// The host's answer to a check: 200 is allow (with the upstream headers),
/// anything else is the denial the client would get.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// HTTP status: 200 for allow, the denial's status otherwise.
    pub status: u16,
    /// Answer headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// Answer body (a denial's body).
    pub body: String,
}

impl Verdict {
    /// True if the request was allowed.
    pub fn allowed(&self) -> bool {
        self.status == 200
    }

    /// The first value of header `name` (case-insensitive): on allow, an
    /// upstream header the chain set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET /auth/<config><path>` with `headers` to `addr`.
pub(crate) fn send(
    addr: SocketAddr,
    config: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Verdict, Error> {
    let mut all = vec![("x-forwarded-proto", "http")];
    all.extend_from_slice(headers);
    exchange(addr, &format!("/auth/{config}{path}"), &all)
}

/// A plain `GET path` (the admin port's `/readyz`).
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<Verdict, Error> {
    exchange(addr, path, &[])
}

fn exchange(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Verdict, Error> {
    let io = |e: std::io::Error| Error(format!("GET {path} on {addr}: {e}"));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: plugin.test\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse(&String::from_utf8_lossy(&raw))
}

/// Parses an HTTP/1.1 answer (`connection: close`, so the body is the rest).
fn parse(raw: &str) -> Result<Verdict, Error> {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error(format!("not an HTTP answer: {raw:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Verdict {
        status,
        headers,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_status_headers_and_body() {
        let v = super::parse("HTTP/1.1 403 Forbidden\r\nX-A: 1\r\n\r\nno").expect("parses");
        assert_eq!(
            (v.status, v.header("x-a"), v.body.as_str()),
            (403, Some("1"), "no")
        );
        assert!(!v.allowed());
        assert!(super::parse("garbage").is_err());
    }
}
