//! `gatehouse-verify` accepts the template with its manifest (`verify.yaml`):
//! the check docs/write-a-plugin.md tells plugin authors to run in their CI.

use std::{path::Path, process::Command};

use gatehouse_tests::{artifact, PluginDir};

#[test]
fn template_passes_gatehouse_verify() {
    let plugins = PluginDir::with(&["libplugin_template.so"]);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("verify.yaml");
    let output = Command::new(artifact("gatehouse-verify"))
        .arg("--plugin-dir")
        .arg(plugins.path())
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .expect("run gatehouse-verify");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "gatehouse-verify failed ({}):\n{}\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.contains("3 request cases passed"), "{stderr}");
}
