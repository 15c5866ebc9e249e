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
