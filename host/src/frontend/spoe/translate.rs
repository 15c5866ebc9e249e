//! NOTIFY message arguments → [`Request`] (the ACK's variables: [`super::actions`]).
//!
//! Arguments read (by name, from every message of the NOTIFY; later ones win):
//! `method`, `path`, `query`, `host`, `scheme`, `headers` (`req.hdrs_bin`),
//! `src`, `src_port`, `dst`, `dst_port`, `id` (e.g. `unique-id`), `body`
//! (`req.body`) and `config_id`. Unknown arguments are ignored.

use std::net::IpAddr;

use crate::{
    model::{join_repeated_headers, Request},
    router::CONFIG_ID_KEY,
};

use super::frame::{decode_headers, Message, Value};

fn address(value: &Value) -> String {
    match value {
        Value::Ipv4(a) => IpAddr::from(*a).to_string(),
        Value::Ipv6(a) => IpAddr::from(*a).to_string(),
        other => other.text().unwrap_or_default(),
    }
}

/// Builds the request from the arguments of a NOTIFY's messages.
pub fn to_request(messages: &[Message]) -> Request {
    let mut request = Request::default();
    let mut query = String::new();
    for (name, value) in messages.iter().flat_map(|m| m.args.iter()) {
        let text = || value.text().unwrap_or_default();
        let port = || {
            value
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0)
        };
        match name.as_str() {
            "method" => request.method = text(),
            "path" => request.path = text(),
            "query" => query = text(),
            "host" => request.host = text(),
            "scheme" => request.scheme = text(),
            "id" => request.id = text(),
            "src" => request.source.address = address(value),
            "src_port" => request.source.port = port(),
            "dst" => request.destination.address = address(value),
            "dst_port" => request.destination.port = port(),
            CONFIG_ID_KEY => {
                if let Some(id) = value.text().filter(|id| !id.is_empty()) {
                    request.context_extensions.insert(CONFIG_ID_KEY.into(), id);
                }
            }
            "headers" => {
                if let Value::Bin(bin) | Value::Str(bin) = value {
                    match decode_headers(bin) {
                        Ok(headers) => {
                            request.headers = headers
                                .into_iter()
                                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                                .collect()
                        }
                        Err(e) => tracing::warn!(error = %e, "undecodable headers argument"),
                    }
                }
            }
            "body" => {
                if let Value::Bin(b) | Value::Str(b) = value {
                    request.body = (!b.is_empty()).then(|| b.clone());
                }
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        request.path = format!("{}?{query}", request.path);
    }
    if request.host.is_empty() {
        if let Some((_, host)) = request.headers.iter().find(|(n, _)| n == "host") {
            request.host = host.clone();
        }
    }
    if request.id.is_empty() {
        if let Some((_, id)) = request.headers.iter().find(|(n, _)| n == "x-request-id") {
            request.id = id.clone();
        }
    }
    request.headers = join_repeated_headers(std::mem::take(&mut request.headers));
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::spoe::frame::put_bytes;

    #[test]
    fn arguments_become_the_request() {
        let mut hdrs = Vec::new();
        for (n, v) in [("Host", "h.test"), ("X-Team", "platform"), ("", "")] {
            put_bytes(&mut hdrs, n.as_bytes());
            put_bytes(&mut hdrs, v.as_bytes());
        }
        let message = Message {
            name: "check-request".into(),
            args: vec![
                ("method".into(), Value::str("GET")),
                ("path".into(), Value::str("/demo")),
                ("query".into(), Value::str("a=1")),
                ("scheme".into(), Value::str("https")),
                ("headers".into(), Value::Bin(hdrs)),
                ("src".into(), Value::Ipv4([192, 0, 2, 7].into())),
                ("src_port".into(), Value::Int32(4242)),
                ("config_id".into(), Value::str("gatehouse.demo")),
            ],
        };
        let r = to_request(&[message]);
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/demo?a=1");
        assert_eq!(r.scheme, "https");
        assert_eq!(r.host, "h.test");
        assert_eq!(r.source.address, "192.0.2.7");
        assert_eq!(r.source.port, 4242);
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "gatehouse.demo");
        assert_eq!(
            r.headers,
            vec![
                ("host".to_string(), "h.test".to_string()),
                ("x-team".to_string(), "platform".to_string())
            ]
        );
    }
}
