//! Header merging with Envoy's semantics, applied step after step.
//!
//! Envoy applies the headers of one `CheckResponse`; a chain produces several
//! steps' worth of mutations. We replay them here, in order, over the request's
//! own headers, and hand Envoy only the final value of every header the chain
//! touched (as an overwrite) plus the headers it removed. The result does not
//! depend on the order in which Envoy applies its lists.

use crate::model::{AppendAction, HeaderOp};

/// Headers under construction. The request's own headers are only read: a name
/// is copied out (with all its values) when a step first touches it, so a chain
/// that sets two headers costs two entries, not a copy of every request header.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeaderMerge<'a> {
    /// The request's headers (lower-case names), as they arrived.
    initial: &'a [(String, String)],
    /// Every touched header (lower-case name → current values), in first-touch order.
    touched: Vec<(String, Vec<String>)>,
}

impl<'a> HeaderMerge<'a> {
    /// Starts from the request's headers.
    pub(crate) fn new(initial: &'a [(String, String)]) -> Self {
        Self {
            initial,
            touched: Vec::new(),
        }
    }

    /// The index of `name` among the touched headers (any case).
    fn position(&self, name: &str) -> Option<usize> {
        self.touched
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Whether the request carries `name` (any case).
    fn initially_present(&self, name: &str) -> bool {
        self.initial
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The values of the touched header at `index`, or of `name` touched now
    /// (`name` is lower-cased in place): with the request's values when
    /// `with_initial`, empty otherwise (for a caller that replaces them).
    fn values(
        &mut self,
        index: Option<usize>,
        mut name: String,
        with_initial: bool,
    ) -> &mut Vec<String> {
        let index = match index {
            Some(i) => i,
            None => {
                let values = if with_initial {
                    self.initial
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                        .map(|(_, v)| v.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                name.make_ascii_lowercase();
                self.touched.push((name, values));
                self.touched.len() - 1
            }
        };
        &mut self.touched[index].1
    }

    /// Makes `value` the only value of `name` (at `index` if touched).
    fn replace(&mut self, index: Option<usize>, name: String, value: String) {
        let values = self.values(index, name, false);
        values.clear();
        values.push(value);
    }

    /// Applies one step's mutations, then its removals (taking the values over).
    pub(crate) fn apply(&mut self, ops: Vec<HeaderOp>, removals: &[String]) {
        for op in ops {
            let index = self.position(&op.name);
            let present = match index {
                Some(i) => !self.touched[i].1.is_empty(),
                None => self.initially_present(&op.name),
            };
            match op.action {
                AppendAction::AppendIfExistsOrAdd => {
                    self.values(index, op.name, true).push(op.value)
                }
                AppendAction::AddIfAbsent if !present => self.replace(index, op.name, op.value),
                AppendAction::OverwriteIfExistsOrAdd => self.replace(index, op.name, op.value),
                AppendAction::OverwriteIfExists if present => {
                    self.replace(index, op.name, op.value)
                }
                AppendAction::AddIfAbsent | AppendAction::OverwriteIfExists => {}
            }
        }
        for name in removals {
            self.remove(name);
        }
    }

    /// Removes every value of `name`, touching it.
    fn remove(&mut self, name: &str) {
        match self.position(name) {
            Some(i) => self.touched[i].1.clear(),
            None => self.touched.push((name.to_ascii_lowercase(), Vec::new())),
        }
    }

    /// Removes `name` if the request carries it and no step has touched it:
    /// what a step set stays, a client's copy goes.
    pub(crate) fn remove_untouched(&mut self, name: &str) {
        if self.position(name).is_none() && self.initially_present(name) {
            self.remove(name);
        }
    }

    /// The final value of every touched header (values joined with `, `, as HTTP
    /// list headers combine), and the touched headers that ended up absent.
    pub(crate) fn into_changes(self) -> (Vec<(String, String)>, Vec<String>) {
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for (name, mut values) in self.touched {
            match values.len() {
                0 => removed.push(name),
                1 => set.push((name, values.swap_remove(0))),
                _ => set.push((name, values.join(", "))),
            }
        }
        (set, removed)
    }

    /// Every value as its own line, for response headers (where joining would
    /// break `set-cookie`). Only touched headers: start from no headers.
    pub(crate) fn into_lines(self) -> Vec<(String, String)> {
        self.touched
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
        let initial = pairs(initial);
        let mut merge = HeaderMerge::new(&initial);
        for ops in steps {
            merge.apply(ops.clone(), &[]);
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
    fn untouched_headers_stay_out_and_repeated_values_are_kept() {
        let (set, removed) = changes(
            &[("a", "1"), ("b", "x"), ("a", "2")],
            &[vec![op("A", "3", AppendAction::AppendIfExistsOrAdd)]],
        );
        assert_eq!(set, pairs(&[("a", "1, 2, 3")]));
        assert!(removed.is_empty());
    }

    #[test]
    fn removal_then_later_add() {
        let initial = pairs(&[("x", "1"), ("y", "1")]);
        let mut merge = HeaderMerge::new(&initial);
        merge.apply(Vec::new(), &["x".into(), "Y".into()]);
        merge.apply(vec![op("y", "2", AppendAction::AppendIfExistsOrAdd)], &[]);
        let (set, removed) = merge.into_changes();
        assert_eq!(set, pairs(&[("y", "2")]));
        assert_eq!(removed, vec!["x".to_string()]);
    }

    #[test]
    fn remove_untouched_keeps_what_a_step_set_and_drops_client_copies() {
        let initial = pairs(&[("x-user", "admin"), ("x-team", "evil")]);
        let mut merge = HeaderMerge::new(&initial);
        merge.apply(
            vec![op("x-team", "ok", AppendAction::OverwriteIfExistsOrAdd)],
            &[],
        );
        for name in ["x-user", "x-team", "absent"] {
            merge.remove_untouched(name);
        }
        let (set, removed) = merge.into_changes();
        assert_eq!(set, pairs(&[("x-team", "ok")]));
        assert_eq!(removed, vec!["x-user".to_string()]);
    }

    #[test]
    fn response_lines_keep_each_value() {
        let mut merge = HeaderMerge::default();
        merge.apply(
            vec![
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
