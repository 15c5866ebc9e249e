//! Header merging with Envoy's semantics, applied step after step.
//!
//! Envoy applies the headers of one `CheckResponse`; a chain produces several
//! steps' worth of mutations. We replay them here, in order, over the request's
//! own headers, and hand Envoy only the final value of every header the chain
//! touched (as an overwrite) plus the headers it removed. The result does not
//! depend on the order in which Envoy applies its lists.

use crate::model::{AppendAction, HeaderOp};

/// Headers under construction: name (lower-case) → values, in first-seen order.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeaderMerge {
    entries: Vec<(String, Vec<String>)>,
    touched: Vec<String>,
}

impl HeaderMerge {
    /// Starts from the request's headers.
    pub(crate) fn new<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut merge = Self::default();
        for (name, value) in headers {
            merge.values_mut(name).push(value.to_string());
        }
        merge
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    fn values_mut(&mut self, name: &str) -> &mut Vec<String> {
        let index = match self.position(name) {
            Some(i) => i,
            None => {
                self.entries.push((name.to_ascii_lowercase(), Vec::new()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[index].1
    }

    fn present(&self, name: &str) -> bool {
        self.position(name)
            .is_some_and(|i| !self.entries[i].1.is_empty())
    }

    fn touch(&mut self, name: &str) {
        if !self.touched.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            self.touched.push(name.to_ascii_lowercase());
        }
    }

    /// Applies one step's mutations, then its removals.
    pub(crate) fn apply(&mut self, ops: &[HeaderOp], removals: &[String]) {
        for op in ops {
            let present = self.present(&op.name);
            let value = op.value.clone();
            match op.action {
                AppendAction::AppendIfExistsOrAdd => self.values_mut(&op.name).push(value),
                AppendAction::AddIfAbsent if !present => *self.values_mut(&op.name) = vec![value],
                AppendAction::OverwriteIfExistsOrAdd => *self.values_mut(&op.name) = vec![value],
                AppendAction::OverwriteIfExists if present => {
                    *self.values_mut(&op.name) = vec![value]
                }
                AppendAction::AddIfAbsent | AppendAction::OverwriteIfExists => continue,
            }
            self.touch(&op.name);
        }
        for name in removals {
            if let Some(i) = self.position(name) {
                self.entries[i].1.clear();
            }
            self.touch(name);
        }
    }

    /// The final value of every touched header (values joined with `, `, as HTTP
    /// list headers combine), and the touched headers that ended up absent.
    pub(crate) fn into_changes(self) -> (Vec<(String, String)>, Vec<String>) {
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for name in &self.touched {
            match self.position(name).map(|i| &self.entries[i].1) {
                Some(values) if !values.is_empty() => set.push((name.clone(), values.join(", "))),
                _ => removed.push(name.clone()),
            }
        }
        (set, removed)
    }

    /// Every value as its own line, for response headers (where joining would
    /// break `set-cookie`).
    pub(crate) fn into_lines(self) -> Vec<(String, String)> {
        self.entries
            .into_iter()
            .flat_map(|(name, values)| values.into_iter().map(move |v| (name.clone(), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, value: &str, action: AppendAction) -> HeaderOp {
        HeaderOp {
            name: name.into(),
            value: value.into(),
            action,
        }
    }

    fn changes(
        initial: &[(&str, &str)],
        steps: &[Vec<HeaderOp>],
    ) -> (Vec<(String, String)>, Vec<String>) {
        let mut merge = HeaderMerge::new(initial.iter().copied());
        for ops in steps {
            merge.apply(ops, &[]);
        }
        merge.into_changes()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn gloo_reference_example() {
        let (set, removed) = changes(
            &[("one", "foo")],
            &[
                vec![op("one", "bar", AppendAction::OverwriteIfExistsOrAdd)],
                vec![
                    op("one", "baz", AppendAction::AppendIfExistsOrAdd),
                    op("two", "asd", AppendAction::OverwriteIfExistsOrAdd),
                ],
            ],
        );
        assert_eq!(set, pairs(&[("one", "bar, baz"), ("two", "asd")]));
        assert!(removed.is_empty());
    }

    #[test]
    fn append_actions() {
        use AppendAction::*;
        let initial = [("a", "1"), ("b", "1")];
        let step = vec![
            op("a", "2", AppendIfExistsOrAdd),
            op("new-append", "x", AppendIfExistsOrAdd),
            op("b", "2", AddIfAbsent),
            op("new-add", "x", AddIfAbsent),
            op("A", "3", OverwriteIfExistsOrAdd),
            op("new-over", "x", OverwriteIfExistsOrAdd),
            op("b", "4", OverwriteIfExists),
            op("absent", "x", OverwriteIfExists),
        ];
        let (set, removed) = changes(&initial, &[step]);
        assert_eq!(
            set,
            pairs(&[
                ("a", "3"),
                ("new-append", "x"),
                ("new-add", "x"),
                ("new-over", "x"),
                ("b", "4")
            ])
        );
        assert!(removed.is_empty());
    }

    #[test]
    fn removal_then_later_add() {
        let mut merge = HeaderMerge::new([("x", "1"), ("y", "1")]);
        merge.apply(&[], &["x".into(), "Y".into()]);
        merge.apply(&[op("y", "2", AppendAction::AppendIfExistsOrAdd)], &[]);
        let (set, removed) = merge.into_changes();
        assert_eq!(set, pairs(&[("y", "2")]));
        assert_eq!(removed, vec!["x".to_string()]);
    }

    #[test]
    fn response_lines_keep_each_value() {
        let mut merge = HeaderMerge::default();
        merge.apply(
            &[
                op("set-cookie", "a=1", AppendAction::AppendIfExistsOrAdd),
                op("set-cookie", "b=2", AppendAction::AppendIfExistsOrAdd),
            ],
            &[],
        );
        assert_eq!(
            merge.into_lines(),
            pairs(&[("set-cookie", "a=1"), ("set-cookie", "b=2")])
        );
    }
}
