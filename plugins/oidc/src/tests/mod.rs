//! Unit tests: sealing, cookies, login state, redirect rules, ID-token claim
//! checks, config refusals and the decisions that need no provider.

mod config;
mod cookies;
mod crypto;
mod flow;
mod idtoken;
mod redirect;
mod redis;
mod state;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

/// A key file with `key` (64 hex digits) in a fresh temp dir; its path.
fn key_file(name: &str, key: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("oidc-unit-{}-{name}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("key");
    std::fs::write(&path, key).expect("key file");
    path
}

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
