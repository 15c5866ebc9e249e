//! The guides show compiled files verbatim: in docs/write-a-plugin.md and
//! docs/porting-from-gloo.md, each block after a `<!-- file: PATH -->` line
//! must equal that file, and each block after `<!-- excerpt: PATH -->` must
//! appear in it, so a guide's code is exactly what CI builds, tests and verifies
//! (the Gloo port is `examples/gloo_required_header.rs`, run by tests/gloo.rs).

use std::path::{Path, PathBuf};

/// Each guide and the files it must show whole.
const GUIDES: [(&str, &[&str]); 2] = [
    (
        "docs/write-a-plugin.md",
        &[
            "plugins/template/Cargo.toml",
            "plugins/template/src/lib.rs",
            "plugins/template/tests/host.rs",
            "plugins/template/verify.yaml",
            "plugins/template/examples/outbound.rs",
        ],
    ),
    (
        "docs/porting-from-gloo.md",
        &["plugins/template/examples/gloo_required_header.rs"],
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How a guide's block relates to its file.
#[derive(Debug, PartialEq)]
enum Shown {
    /// The whole file.
    File,
    /// A contiguous part of it.
    Excerpt,
}

/// Every `(kind, path, block)` the guide marks with `<!-- file: PATH -->` or
/// `<!-- excerpt: PATH -->`.
fn shown_blocks(guide: &str) -> Vec<(Shown, String, String)> {
    let mut found = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some((kind, path)) = line.strip_suffix(" -->").and_then(|rest| {
            (rest.strip_prefix("<!-- file: ").map(|p| (Shown::File, p))).or_else(|| {
                rest.strip_prefix("<!-- excerpt: ")
                    .map(|p| (Shown::Excerpt, p))
            })
        }) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "`{line}` must be followed by a code fence"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        found.push((kind, path.to_string(), block.join("\n") + "\n"));
    }
    found
}

#[test]
fn guides_show_the_compiled_files_verbatim() {
    for (guide_path, files) in GUIDES {
        let guide = std::fs::read_to_string(repo().join(guide_path))
            .unwrap_or_else(|e| panic!("{guide_path}: {e}"));
        let shown = shown_blocks(&guide);
        for path in files {
            assert!(
                shown.iter().any(|(k, p, _)| *k == Shown::File && p == path),
                "{guide_path} no longer shows {path}"
            );
        }
        for (kind, path, block) in shown {
            let file = std::fs::read_to_string(repo().join(&path))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let ok = match kind {
                Shown::File => block == file,
                Shown::Excerpt => file.contains(&block),
            };
            assert!(
                ok,
                "{guide_path} shows {path} ({kind:?}) differently from the file: copy the file into the guide\n\
                 --- guide\n{block}\n--- file\n{file}"
            );
        }
    }
}
