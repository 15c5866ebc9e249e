//! docs/write-a-plugin.md shows this crate's files verbatim: each block after
//! a `<!-- file: PATH -->` line must equal that file, so the guide's plugin is
//! exactly the one CI builds, tests and verifies.

use std::path::{Path, PathBuf};

/// The files the guide must show.
const SHOWN: [&str; 5] = [
    "plugins/template/Cargo.toml",
    "plugins/template/src/lib.rs",
    "plugins/template/tests/host.rs",
    "plugins/template/verify.yaml",
    "plugins/template/examples/outbound.rs",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `(path, block)` the guide marks with `<!-- file: PATH -->`.
fn shown_files(guide: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "`{line}` must be followed by a code fence"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        found.push((path.to_string(), block.join("\n") + "\n"));
    }
    found
}

#[test]
fn guide_shows_the_template_files_verbatim() {
    let guide = std::fs::read_to_string(repo().join("docs/write-a-plugin.md")).expect("read guide");
    let shown = shown_files(&guide);
    for path in SHOWN {
        assert!(
            shown.iter().any(|(p, _)| p == path),
            "the guide no longer shows {path}"
        );
    }
    for (path, block) in shown {
        let file =
            std::fs::read_to_string(repo().join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            block == file,
            "docs/write-a-plugin.md shows {path} differently from the file: copy the file into the guide\n\
             --- guide\n{block}\n--- file\n{file}"
        );
    }
}
