//! The part of `envoy.service.auth.v3.CheckRequest` the host reads, decoded
//! straight from the wire. Same field numbers and types as envoy-types'
//! message, so every `CheckRequest` decodes; the difference is that the two
//! string maps (`http.headers`, `context_extensions`) are decoded as what they
//! are on the wire, repeated key/value entries, into a `Vec` in arrival order
//! instead of a `HashMap` (no hashing, no table growth per request; measured in
//! BENCHMARKS.md). Fields the host does not use (`time`, `query`, `fragment`,
//! `size`, `protocol`) are skipped as unknown fields.

use envoy_types::pb::envoy::{
    config::core::v3::{HeaderMap, Metadata},
    service::auth::v3::attribute_context::{Peer, TlsSession},
};

/// `CheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckRequest {
    /// `attributes`.
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<AttributeContext>,
}

/// `AttributeContext`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeContext {
    /// `source`.
    #[prost(message, optional, tag = "1")]
    pub source: Option<Peer>,
    /// `destination`.
    #[prost(message, optional, tag = "2")]
    pub destination: Option<Peer>,
    /// `request`.
    #[prost(message, optional, tag = "4")]
    pub request: Option<Request>,
    /// `context_extensions` (a `map<string, string>`), in wire order.
    #[prost(message, repeated, tag = "10")]
    pub context_extensions: Vec<Entry>,
    /// `metadata_context`.
    #[prost(message, optional, tag = "11")]
    pub metadata_context: Option<Metadata>,
    /// `tls_session`.
    #[prost(message, optional, tag = "12")]
    pub tls_session: Option<TlsSession>,
    /// `route_metadata_context`.
    #[prost(message, optional, tag = "13")]
    pub route_metadata_context: Option<Metadata>,
}

/// `AttributeContext.Request` (`time` skipped).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// `http`.
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequest>,
}

/// `AttributeContext.HttpRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRequest {
    /// `id`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// `method`.
    #[prost(string, tag = "2")]
    pub method: String,
    /// `headers` (a `map<string, string>`), in wire order.
    #[prost(message, repeated, tag = "3")]
    pub headers: Vec<Entry>,
    /// `path`.
    #[prost(string, tag = "4")]
    pub path: String,
    /// `host`.
    #[prost(string, tag = "5")]
    pub host: String,
    /// `scheme`.
    #[prost(string, tag = "6")]
    pub scheme: String,
    /// `body`.
    #[prost(string, tag = "11")]
    pub body: String,
    /// `raw_body`.
    #[prost(bytes = "vec", tag = "12")]
    pub raw_body: Vec<u8>,
    /// `header_map`.
    #[prost(message, optional, tag = "13")]
    pub header_map: Option<HeaderMap>,
}

/// One entry of a `map<string, string>` as it is encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// The map key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The map value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A map's entries with protobuf's map semantics: each key once, the last
/// value sent for it winning. Sorted by key (stable, so "last" is arrival order).
pub(super) fn map_entries(mut entries: Vec<Entry>) -> Vec<Entry> {
    crate::model::sort_by_name(&mut entries, |e| &e.key);
    // `dedup_by` keeps the first of equal neighbours: move the later value into it.
    entries.dedup_by(|later, kept| {
        let same = later.key == kept.key;
        if same {
            std::mem::swap(&mut later.value, &mut kept.value);
        }
        same
    });
    entries
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::service::auth::v3 as envoy;
    use prost::Message;

    use super::*;

    fn entry(key: &str, value: &str) -> Entry {
        Entry {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_repeated_map_key_keeps_its_last_value_as_protobuf_maps_do() {
        let entries = map_entries(vec![
            entry("b", "1"),
            entry("a", "x"),
            entry("b", "2"),
            entry("b", "3"),
        ]);
        assert_eq!(entries, vec![entry("a", "x"), entry("b", "3")]);
    }

    #[test]
    fn every_field_the_host_reads_decodes_as_envoy_types_encodes_it() {
        let mut check = gatehouse_check();
        let bytes = check.encode_to_vec();
        let wire = CheckRequest::decode(bytes.as_slice()).expect("decodes");
        let attributes = wire.attributes.expect("attributes");
        let http = attributes.request.and_then(|r| r.http).expect("http");
        let headers = map_entries(http.headers);
        assert_eq!(headers, vec![entry(":path", "/p"), entry("x-a", "1")]);
        assert_eq!(
            (http.id.as_str(), http.method.as_str(), http.path.as_str()),
            ("id", "GET", "/p")
        );
        assert_eq!((http.host.as_str(), http.scheme.as_str()), ("h", "https"));
        assert_eq!(
            (http.body.as_str(), http.raw_body.as_slice()),
            ("b", &b"raw"[..])
        );
        assert_eq!(attributes.context_extensions, vec![entry("config_id", "c")]);
        let original = check.attributes.take().expect("attributes");
        assert_eq!(attributes.source, original.source);
        assert_eq!(attributes.destination, original.destination);
        assert_eq!(attributes.tls_session, original.tls_session);
        assert_eq!(attributes.metadata_context, original.metadata_context);
        assert_eq!(
            attributes.route_metadata_context,
            original.route_metadata_context
        );
        assert_eq!(http.header_map, None);
    }

    fn gatehouse_check() -> envoy::CheckRequest {
        use envoy_types::pb::envoy::config::core::v3::{
            address, socket_address::PortSpecifier, Address, SocketAddress,
        };
        let peer = |ip: &str, port| Peer {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: ip.into(),
                    port_specifier: Some(PortSpecifier::PortValue(port)),
                    ..Default::default()
                })),
            }),
            principal: "spiffe://p".into(),
            ..Default::default()
        };
        let metadata = |ns: &str| Metadata {
            filter_metadata: [(ns.to_string(), Default::default())].into(),
            ..Default::default()
        };
        envoy::CheckRequest {
            attributes: Some(envoy::AttributeContext {
                source: Some(peer("192.0.2.1", 4000)),
                destination: Some(peer("192.0.2.2", 443)),
                request: Some(envoy::attribute_context::Request {
                    time: Some(Default::default()),
                    http: Some(envoy::attribute_context::HttpRequest {
                        id: "id".into(),
                        method: "GET".into(),
                        headers: [("x-a", "1"), (":path", "/p")]
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .into(),
                        path: "/p".into(),
                        host: "h".into(),
                        scheme: "https".into(),
                        query: "q=1".into(),
                        protocol: "HTTP/2".into(),
                        body: "b".into(),
                        raw_body: b"raw".to_vec(),
                        ..Default::default()
                    }),
                }),
                context_extensions: [("config_id".to_string(), "c".to_string())].into(),
                metadata_context: Some(metadata("m")),
                route_metadata_context: Some(metadata("r")),
                tls_session: Some(TlsSession {
                    sni: "sni.test".into(),
                }),
            }),
        }
    }
}
