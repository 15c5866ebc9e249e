//! What a step sees of one request, and the per-request cache that lets step
//! adapters convert the request once per chain instead of once per step.

use std::{
    any::Any,
    ptr::NonNull,
    time::{Duration, Instant},
};

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
        let request = unsafe { cache.request.as_ref() };
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

/// Values derived from one request, kept for the rest of its chain run.
///
/// Step adapters use it to convert the request into a plugin interface's types
/// once and lend it to every later step built against the same interface. Keyed
/// by type, so the chain needs to know nothing of those types. It belongs to
/// one request ([`RequestCache::request`]) for its whole life; it has no safe
/// constructor, so safe code cannot make one to swap with a run's.
pub struct RequestCache {
    /// The request of the run (see `new`'s contract).
    request: NonNull<Request>,
    slots: Vec<Box<dyn Any + Send + Sync>>,
}

// SAFETY: `request` is only ever read through a shared reference (`Request`
// is `Sync`); the slots are `Send + Sync` themselves.
unsafe impl Send for RequestCache {}
// SAFETY: as above.
unsafe impl Sync for RequestCache {}

impl RequestCache {
    /// The cache of one chain run of `request`.
    ///
    /// # Safety
    ///
    /// `request` must outlive the cache: what steps keep in it may point into
    /// the request, and [`StepInput::new`] hands it to steps by reference.
    pub unsafe fn new(request: &Request) -> Self {
        Self {
            request: NonNull::from(request),
            slots: Vec::new(),
        }
    }

    /// The request this cache belongs to.
    pub fn request(&self) -> &Request {
        // SAFETY: it outlives the cache (`new`'s contract).
        unsafe { self.request.as_ref() }
    }

    /// The cached `T`, made by `make` on first use in this chain run.
    pub fn get_or_insert_with<T, F>(&mut self, make: F) -> &mut T
    where
        T: Any + Send + Sync,
        F: FnOnce() -> T,
    {
        let index = match self.slots.iter().position(|slot| slot.is::<T>()) {
            Some(index) => index,
            None => {
                self.slots.push(Box::new(make()));
                self.slots.len() - 1
            }
        };
        self.slots[index]
            .downcast_mut::<T>()
            .expect("the slot was found or made for this type")
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{RequestCache, StepInput};
    use crate::model::{Request, State};

    #[test]
    fn one_value_per_type_made_once() {
        let request = Request::default();
        // SAFETY: `request` outlives the cache.
        let mut cache = unsafe { RequestCache::new(&request) };
        let mut made = 0;
        *cache.get_or_insert_with(|| {
            made += 1;
            1u32
        }) += 1;
        let again = *cache.get_or_insert_with(|| {
            made += 1;
            100u32
        });
        let other = cache.get_or_insert_with(|| String::from("x")).clone();
        assert_eq!((again, other.as_str(), made), (2, "x", 1));
    }

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
