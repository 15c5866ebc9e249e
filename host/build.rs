//! Builds the protobuf descriptor set for gRPC server reflection.
//!
//! envoy-types ships pre-generated Rust types and, in its crate sources, the full
//! descriptor set they were generated from (`src/generated/types.bin`), but exports
//! no `FILE_DESCRIPTOR_SET`. We locate that file (Cargo.lock's version in Cargo's
//! registry cache, else `cargo metadata`) and keep
//! only `envoy/service/auth/v3/external_auth.proto` and its transitive imports, so
//! reflection describes exactly the Authorization service without megabytes of
//! unrelated Envoy types.

use std::{
    collections::BTreeSet,
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

const ROOT_FILE: &str = "envoy/service/auth/v3/external_auth.proto";

/// The version of envoy-types in the workspace's Cargo.lock.
fn locked_version(lock: &Path) -> Option<String> {
    let text = fs::read_to_string(lock).ok()?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"envoy-types\"" {
            let version = lines
                .next()?
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')?;
            return Some(version.to_string());
        }
    }
    None
}

/// envoy-types' unpacked sources in Cargo's registry cache.
fn from_registry(version: &str) -> Option<PathBuf> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let registries = fs::read_dir(cargo_home.join("registry/src")).ok()?;
    registries
        .flatten()
        .map(|r| {
            r.path()
                .join(format!("envoy-types-{version}/src/generated/types.bin"))
        })
        .find(|p| p.is_file())
}

/// Fallback (vendored sources, other layouts): ask cargo. Needs every package
/// of the workspace graph present, hence only a fallback.
fn from_cargo_metadata(manifest_dir: &Path) -> Option<PathBuf> {
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
        .ok()?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let manifest = meta["packages"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "envoy-types")?["manifest_path"]
        .as_str()?
        .to_string();
    Some(PathBuf::from(manifest).with_file_name("src/generated/types.bin"))
}

/// `gatehouse --version`'s text (src/build.rs): a profile-guided build names
/// its training profile, which `scripts/build-host.sh --pgo` passes in
/// `GATEHOUSE_PGO_PROFILE`.
fn long_version() {
    println!("cargo:rerun-if-env-changed=GATEHOUSE_PGO_PROFILE");
    let version = env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION");
    let long = match env::var("GATEHOUSE_PGO_PROFILE") {
        Ok(profile) => format!("{version} (profile-guided build, profile {profile})"),
        Err(_) => version,
    };
    println!("cargo:rustc-env=GATEHOUSE_LONG_VERSION={long}");
}

fn main() {
    long_version();
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let lock = manifest_dir.join("../Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", lock.display());
    let types_bin = locked_version(&lock)
        .and_then(|v| from_registry(&v))
        .or_else(|| from_cargo_metadata(&manifest_dir))
        .expect(
            "cannot find envoy-types' src/generated/types.bin (registry cache or cargo metadata)",
        );
    println!("cargo:rerun-if-changed={}", types_bin.display());

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
