//! Turns abi_stable's layout report (often 20 KB of nested type dumps) into one
//! line a plugin author can act on: which type differs, where it sits, and how.

/// Summarises an abi_stable `AbiInstability` report, e.g.
/// `type AuthRequest (at PluginMod.new_service → … → authorize.param_1): incompatible
/// type size: expected 536, found 544; too many fields: expected 12, found 13`.
/// Returns None when the text has no recognisable error block.
pub(crate) fn summarize(report: &str) -> Option<String> {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .rposition(|l| l.ends_with("error(s)inside:") && !l.starts_with("0 "))?;

    // The block lists the path from the root to the offending type as
    // field_name/type pairs, ending where the expected layout is printed.
    let mut path = Vec::new();
    let mut field = "";
    for line in &lines[start + 1..] {
        if line.starts_with("Layout of expected type") {
            break;
        }
        if let Some(f) = line.strip_prefix("field_name:") {
            field = f;
        } else if let Some(t) = line.strip_prefix("type:") {
            path.push((field, t));
        }
    }
    let (_, offending) = *path.last()?;
    let route: Vec<String> = path
        .windows(2)
        .filter(|w| !w[1].0.chars().all(|c| c.is_ascii_digit()) && !w[1].0.starts_with("__"))
        .map(|w| format!("{}.{}", w[0].1, w[1].0))
        .collect();

    let mut problems = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(what) = lines[i].strip_prefix("Error:") {
            let value_after = |label: &str| {
                lines[i..]
                    .iter()
                    .position(|l| *l == label)
                    .and_then(|p| lines.get(i + p + 1))
                    .copied()
                    .unwrap_or("?")
            };
            problems.push(format!(
                "{what}: expected {}, found {}",
                value_after("Expected:"),
                value_after("Found:")
            ));
        }
        i += 1;
    }
    if problems.is_empty() {
        return None;
    }
    let at = if route.is_empty() {
        String::new()
    } else {
        format!(" (at {})", route.join(" → "))
    };
    Some(format!("type {offending}{at}: {}", problems.join("; ")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_type_and_what_differs() {
        let report = include_str!("../../testdata/abi_stable_layout_error.txt");
        let summary = super::summarize(report).expect("summary");
        assert!(
            summary.starts_with("type AuthRequest (at PluginMod.new_service"),
            "{summary}"
        );
        assert!(
            summary.contains("VTable.authorize → AFunctionPointer.param_1"),
            "{summary}"
        );
        assert!(summary.ends_with("incompatible type size: expected 536, found 544; too many fields: expected 12, found 13"), "{summary}");
    }

    #[test]
    fn unrecognised_text_gives_none() {
        assert_eq!(super::summarize("library version mismatch"), None);
    }
}

/// The checked-in layout dumps and the version list (see `abi.rs`'s
/// `interfaces!`): each supported interface has a dump of every type reachable
/// from its root module under `plugin-api/layouts/`, and a test compares it,
/// so a frozen copy (or the published current version) cannot change by
/// accident. After a deliberate change to the *unpublished* current version,
/// rewrite its dump (and write missing ones; frozen dumps are never rewritten)
/// with `GATEHOUSE_BLESS_LAYOUTS=1 cargo test -p gatehouse --lib layout`.
#[cfg(test)]
mod dumps {
    use std::{collections::HashSet, fmt::Write as _, path::PathBuf};

    use abi_stable::type_layout::{TLData, TypeLayout};

    use crate::loader::abi::{layouts, VERSIONS};

    fn plugin_api() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugin-api")
    }

    /// Every type reachable from `root`: name, package and version, size,
    /// alignment, kind, fields (with their types) and enum variants; sorted, so
    /// the text depends only on the types (sizes are those of this target).
    pub(super) fn dump(root: &'static TypeLayout) -> String {
        let mut seen = HashSet::new();
        let mut types = Vec::new();
        let mut queue = vec![root];
        while let Some(layout) = queue.pop() {
            if !seen.insert(layout.get_utypeid()) {
                continue;
            }
            let (package, version) = layout.package_and_version();
            let name = format!("{} ({package} {version})", layout.full_type());
            let mut text = format!(
                "size {} align {} {:?}\n",
                layout.size(),
                layout.alignment(),
                layout.data_discriminant()
            );
            if let TLData::Enum(e) = layout.data() {
                let variants: Vec<_> = e.variant_names_iter().collect();
                let _ = writeln!(text, "  variants: {}", variants.join(", "));
            }
            for field in layout.get_fields().into_iter().flatten() {
                let _ = writeln!(text, "  {}: {}", field.name(), field.full_type());
                for function in field.function_range() {
                    let _ = writeln!(text, "    fn {function}");
                }
                queue.push(field.layout());
            }
            for shared in layout.shared_vars().type_layouts() {
                queue.push(shared());
            }
            types.push(format!("{name}: {text}"));
        }
        types.sort();
        types.dedup();
        types.concat()
    }

    #[test]
    fn every_supported_interface_matches_its_checked_in_layout_dump() {
        let bless = std::env::var_os("GATEHOUSE_BLESS_LAYOUTS").is_some();
        let all = layouts();
        let current = all.last().map(|(m, _)| *m);
        for (module, layout) in all {
            let path = plugin_api().join(format!("layouts/{module}.txt"));
            let actual = dump(layout);
            // Blessing writes the current version's dump and missing ones only:
            // a frozen version's dump is never rewritten.
            if bless && (Some(module) == current || !path.exists()) {
                std::fs::write(&path, &actual).expect("write dump");
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; write it with GATEHOUSE_BLESS_LAYOUTS=1",
                    path.display()
                )
            });
            assert!(
                expected == actual,
                "interface {module}: its types differ from {} — a published interface never \
                 changes; add a new version instead (see plugin-api/current/src/lib.rs)",
                path.display()
            );
        }
    }

    #[test]
    fn the_version_list_matches_the_frozen_copies_and_the_host_dependencies() {
        let (current, frozen) = VERSIONS.split_last().expect("at least one version");
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .expect("host Cargo.toml");
        let version_of = |dir: &str| {
            let text = std::fs::read_to_string(plugin_api().join(dir).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("plugin-api/{dir}/Cargo.toml: {e}"));
            text.lines()
                .find_map(|l| l.strip_prefix("version = \""))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        for (module, major, minor) in frozen {
            assert_eq!(
                version_of(&format!("frozen/{module}")),
                format!("{major}.{minor}.0")
            );
            let dependency = format!(
                "api_{module} = {{ package = \"gatehouse-plugin-api\", path = \"../plugin-api/frozen/{module}\" }}"
            );
            assert!(
                manifest.contains(&dependency),
                "host/Cargo.toml lacks: {dependency}"
            );
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(plugin_api().join("frozen"))
            .expect("plugin-api/frozen")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        on_disk.sort();
        let listed: Vec<String> = frozen.iter().map(|(m, ..)| m.to_string()).collect();
        assert_eq!(
            on_disk, listed,
            "plugin-api/frozen/ and the version list differ"
        );
        let (_, major, minor) = current;
        assert_eq!(version_of("current"), format!("{major}.{minor}.0"));
        assert_eq!(api::INTERFACE_VERSION, format!("{major}.{minor}.0"));
    }

    #[test]
    fn a_dump_names_fields_and_their_types() {
        let text = dump(<api::AuthRequest as abi_stable::StableAbi>::LAYOUT);
        let version = api::INTERFACE_VERSION;
        assert!(
            text.contains(&format!(
                "AuthRequest (gatehouse-plugin-api {version}): size"
            )),
            "{text}"
        );
        assert!(text.contains("  headers: RVec\n"), "{text}");
        assert!(
            text.contains(&format!("Header (gatehouse-plugin-api {version}): size")),
            "{text}"
        );
    }
}
