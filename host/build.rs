//! Builds the protobuf descriptor set for gRPC server reflection.
//!
//! envoy-types ships pre-generated Rust types and, in its crate sources, the full
//! descriptor set they were generated from (`src/generated/types.bin`), but exports
//! no `FILE_DESCRIPTOR_SET`. We locate that file through `cargo metadata` and keep
//! only `envoy/service/auth/v3/external_auth.proto` and its transitive imports, so
//! reflection describes exactly the Authorization service without megabytes of
//! unrelated Envoy types.

use std::{collections::BTreeSet, env, fs, path::PathBuf, process::Command};

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

const ROOT_FILE: &str = "envoy/service/auth/v3/external_auth.proto";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(manifest_dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .and_then(|pkgs| pkgs.iter().find(|p| p["name"] == "envoy-types"))
        .and_then(|p| p["manifest_path"].as_str())
        .expect("envoy-types in cargo metadata");
    let types_bin = PathBuf::from(manifest).with_file_name("src/generated/types.bin");
    println!("cargo:rerun-if-changed={}", types_bin.display());
    println!("cargo:rerun-if-changed=build.rs");

    let bytes =
        fs::read(&types_bin).unwrap_or_else(|e| panic!("read {}: {e}", types_bin.display()));
    let all =
        FileDescriptorSet::decode(bytes.as_slice()).expect("decode envoy-types descriptor set");

    // Depth-first over imports; emit dependencies before dependents.
    let by_name: std::collections::HashMap<&str, &FileDescriptorProto> =
        all.file.iter().map(|f| (f.name(), f)).collect();
    let mut seen = BTreeSet::new();
    let mut ordered = Vec::new();
    fn visit<'a>(
        name: &'a str,
        by_name: &std::collections::HashMap<&'a str, &'a FileDescriptorProto>,
        seen: &mut BTreeSet<&'a str>,
        ordered: &mut Vec<FileDescriptorProto>,
    ) {
        if !seen.insert(name) {
            return;
        }
        let file = by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from types.bin"));
        for dep in &file.dependency {
            visit(dep, by_name, seen, ordered);
        }
        ordered.push((*file).clone());
    }
    visit(ROOT_FILE, &by_name, &mut seen, &mut ordered);

    let trimmed = FileDescriptorSet { file: ordered };
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("ext_authz_descriptor.bin");
    fs::write(&dest, trimmed.encode_to_vec()).expect("write descriptor set");
}
