//! The PGO training requests (scripts/pgo/*.grpc, sent by `scripts/build-host.sh
//! --pgo` through h2load) are the benchmark's requests: an allowed one and a
//! refused one. `UPDATE_PGO_REQUESTS=1 cargo test -p gatehouse-bench --test
//! pgo_requests` writes them again after the requests change.

use std::path::PathBuf;

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use gatehouse_bench::{check_request, framed, http_mut, refused_check_request};
use prost::Message;

fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/pgo")
        .join(name)
}

/// The request in the gRPC frame of `name`, checking the frame's header.
fn read(name: &str) -> CheckRequest {
    let path = file(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 5,
        "{}: shorter than a gRPC frame",
        path.display()
    );
    assert_eq!(bytes[0], 0, "{}: compressed flag set", path.display());
    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    assert_eq!(length, bytes.len() - 5, "{}: frame length", path.display());
    CheckRequest::decode(&bytes[5..]).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check(name: &str, want: CheckRequest) {
    if std::env::var_os("UPDATE_PGO_REQUESTS").is_some() {
        std::fs::write(file(name), framed(&want)).expect("write the training request");
    }
    assert_eq!(
        read(name),
        want,
        "scripts/pgo/{name} is not the benchmark's request: run with UPDATE_PGO_REQUESTS=1"
    );
}

#[test]
fn the_allowed_training_request_is_the_benchmark_request() {
    check("allow.grpc", check_request());
}

#[test]
fn the_refused_training_request_differs_only_in_its_team() {
    let refused = refused_check_request();
    check("refuse.grpc", refused.clone());
    let mut allowed = refused;
    let http = http_mut(&mut allowed).expect("an HTTP request");
    assert_eq!(
        http.headers.get("x-team").map(String::as_str),
        Some("marketing")
    );
    http.headers.insert("x-team".into(), "platform".into());
    assert_eq!(allowed, check_request());
}
