//! What `failureModeAllow` lets through when a step fails.
//!
//! Envoy's own `failure_mode_allow` passes the request unmodified. Here that
//! would let a client's value of a header the chain owns reach the upstream:
//! a client sends `x-user: admin`, step 1 would remove it, step 2 times out,
//! and the request goes through as sent. So a failed, fail-open chain applies:
//! 1. every effect of the steps that completed (headers, removals, state, user);
//! 2. the removal of every header the chain owns that those steps did not set:
//!    the names in `spec.failureModeAllowRemoveHeaders`, and every name a step
//!    of this chain has set or removed on any earlier request;
//! 3. `x-gatehouse-failure-mode-allowed: true`, overwriting a client's copy.

use std::sync::Mutex;

use crate::model::HeaderOp;

/// Most learned names kept per chain (names come from plugins, not clients,
/// but a plugin that invents names must not grow memory without bound).
const MAX_LEARNED: usize = 256;

/// The upstream headers a chain owns: declared in its config, or seen set or
/// removed by its steps. Learning happens only for fail-open chains.
#[derive(Debug, Default)]
pub(crate) struct OwnedHeaders {
    declared: Vec<String>,
    learned: Mutex<Vec<String>>,
}

impl OwnedHeaders {
    /// Owns `declared` from the start (lower-cased).
    pub(crate) fn declared(names: Vec<String>) -> Self {
        Self {
            declared: names.into_iter().map(|n| n.to_ascii_lowercase()).collect(),
            learned: Mutex::default(),
        }
    }

    /// Records the names one allowing step touched.
    pub(crate) fn learn(&self, ops: &[HeaderOp], removals: &[String]) {
        let names = ops.iter().map(|op| &op.name).chain(removals);
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            let known = |n: &String| n.eq_ignore_ascii_case(name);
            if learned.len() < MAX_LEARNED
                && !learned.iter().any(known)
                && !self.declared.iter().any(known)
            {
                learned.push(name.to_ascii_lowercase());
            }
        }
    }

    /// Every owned name.
    pub(crate) fn names(&self) -> Vec<String> {
        let learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        self.declared
            .iter()
            .chain(learned.iter())
            .cloned()
            .collect()
    }
}
