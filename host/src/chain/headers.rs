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

    fn position(&self, name: &str) -> Option<usize> {
        self.touched
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The values of `name`, touching it.
    fn values_mut(&mut self, name: &str) -> &mut Vec<String> {
        let index = match self.position(name) {
            Some(i) => i,
            None => {
                let values = self
                    .initial
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .collect();
                self.touched.push((name.to_ascii_lowercase(), values));
                self.touched.len() - 1
            }
        };
        &mut self.touched[index].1
    }

    fn present(&self, name: &str) -> bool {
        match self.position(name) {
            Some(i) => !self.touched[i].1.is_empty(),
            None => self
                .initial
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name)),
        }
    }

    /// Applies one step's mutations, then its removals (taking the values over).
    pub(crate) fn apply(&mut self, ops: Vec<HeaderOp>, removals: &[String]) {
        for op in ops {
            let present = self.present(&op.name);
            match op.action {
                AppendAction::AppendIfExistsOrAdd => self.values_mut(&op.name).push(op.value),
                AppendAction::AddIfAbsent if !present => {
                    *self.values_mut(&op.name) = vec![op.value]
                }
                AppendAction::OverwriteIfExistsOrAdd => *self.values_mut(&op.name) = vec![op.value],
                AppendAction::OverwriteIfExists if present => {
                    *self.values_mut(&op.name) = vec![op.value]
                }
                AppendAction::AddIfAbsent | AppendAction::OverwriteIfExists => {}
            }
        }
        for name in removals {
            self.values_mut(name).clear();
        }
    }

    /// Removes `name` if the request carries it and no step has touched it:
    /// what a step set stays, a client's copy goes.
    pub(crate) fn remove_untouched(&mut self, name: &str) {
        if self.position(name).is_none() && self.present(name) {
            self.values_mut(name).clear();
        }
    }

    /// The final value of every touched header (values joined with `, `, as HTTP
    /// list headers combine), and the touched headers that ended up absent.
    pub(crate) fn into_changes(self) -> (Vec<(String, String)>, Vec<String>) {
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for (name, values) in self.touched {
            if values.is_empty() {
                removed.push(name);
            } else {
                set.push((name, values.join(", ")));
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
