//! What each step of a case's chain run did, for `expect.steps`: whether it
//! ran, was skipped by its `when`, answered from its cache, ran as a shadow,
//! or was never reached.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use gatehouse::chain::{cache::CacheEvent, Observer, StepResult};

/// How one step took part in a run (`expect.steps.<name>`).
pub(crate) const STEP_STATES: [&str; 5] = ["ran", "skipped", "cached", "shadow", "notRun"];

/// Records each step of one chain run.
#[derive(Default)]
pub(crate) struct StepRecorder {
    seen: Mutex<BTreeMap<String, &'static str>>,
}

impl StepRecorder {
    /// Step name → `ran`, `skipped`, `cached` or `shadow` (absent: `notRun`).
    pub(crate) fn into_map(self) -> BTreeMap<String, &'static str> {
        self.seen.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl Observer for StepRecorder {
    fn step(&self, _: &str, step: &str, result: StepResult, shadow: bool, _: Duration) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let state = match (result, shadow, seen.get(step)) {
            (StepResult::Skipped, _, _) => "skipped",
            (_, true, _) => "shadow",
            (_, false, Some(&"cached")) => "cached",
            _ => "ran",
        };
        seen.insert(step.to_string(), state);
    }

    fn cache(&self, _: &str, step: &str, event: CacheEvent, _: u64) {
        if event == CacheEvent::Hit {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.insert(step.to_string(), "cached");
        }
    }
}
