//! What a step sees of one request (see [`RequestCache`] for what a run keeps).

use std::time::{Duration, Instant};

use super::RequestCache;
use crate::model::{Request, State};

/// One step's view of a request: the request as it arrived, the state left by
/// earlier steps, and the cache shared by every step of this chain run.
///
/// The request is always the cache's own ([`RequestCache::request`]): a step
/// adapter may lend it to a plugin once per run and keep that loan in the
/// cache, so the two can never be paired with another request.
pub struct StepInput<'a> {
    request: &'a Request,
    state: &'a State,
    cache: &'a mut RequestCache,
    deadline: Instant,
    budget: Duration,
}

impl<'a> StepInput<'a> {
    /// The input for one step of the run `cache` belongs to: its request, the
    /// `state` earlier steps left, and when the chain stops waiting
    /// (`deadline`, `budget` from the call).
    pub fn new(
        cache: &'a mut RequestCache,
        state: &'a State,
        deadline: Instant,
        budget: Duration,
    ) -> Self {
        // SAFETY: the cache's request outlives the cache (the contract of
        // `RequestCache::new`), which is borrowed for `'a`.
        let request = unsafe { cache.request_for_run() };
        Self {
            request,
            state,
            cache,
            deadline,
            budget,
        }
    }

    /// The request as the frontend translated it (the same for every step).
    pub fn request(&self) -> &'a Request {
        self.request
    }

    /// The state set by earlier steps.
    pub fn state(&self) -> &'a State {
        self.state
    }

    /// When the chain stops waiting for this step (its timeout or the chain's
    /// deadline, whichever is first); plugins of interface 1.3 see it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time from the call to [`StepInput::deadline`], as the chain
    /// computed it (so a step needs no clock read of its own for it).
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The run's cache, with the request and state (for step adapters).
    pub fn into_parts(self) -> (&'a Request, &'a State, &'a mut RequestCache) {
        (self.request, self.state, self.cache)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{RequestCache, StepInput};
    use crate::model::{Request, State};

    #[test]
    fn a_steps_request_is_its_caches() {
        let request = Request {
            id: "r-1".into(),
            ..Request::default()
        };
        let state = State::new();
        // SAFETY: `request` outlives the cache.
        let mut cache = unsafe { RequestCache::new(&request) };
        let input = StepInput::new(&mut cache, &state, Instant::now(), Duration::ZERO);
        assert!(std::ptr::eq(input.request(), &request));
        let (lent, _, cache) = input.into_parts();
        assert!(std::ptr::eq(lent, cache.request()));
    }
}
