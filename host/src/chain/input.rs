//! What a step sees of one request, and the per-request cache that lets step
//! adapters convert the request once per chain instead of once per step.

use std::any::Any;

use crate::model::{Request, State};

/// One step's view of a request: the request as it arrived, the state left by
/// earlier steps, and the cache shared by every step of this chain run.
pub struct StepInput<'a> {
    /// The request as the frontend translated it (the same for every step).
    pub request: &'a Request,
    /// The state set by earlier steps.
    pub state: &'a State,
    /// Lives as long as the chain run; see [`RequestCache`].
    pub cache: &'a mut RequestCache,
    /// When the chain stops waiting for this step (its timeout or the chain's
    /// deadline, whichever is first); plugins of interface 1.3 see it.
    pub deadline: std::time::Instant,
    /// The time from the call to `deadline`, as the chain computed it (so a
    /// step needs no clock read of its own for it).
    pub budget: std::time::Duration,
}

/// Values derived from one request, kept for the rest of its chain run.
///
/// Step adapters use it to convert the request into a plugin interface's types
/// once and lend it to every later step built against the same interface. Keyed
/// by type, so the chain needs to know nothing of those types.
#[derive(Default)]
pub struct RequestCache {
    slots: Vec<Box<dyn Any + Send + Sync>>,
}

impl RequestCache {
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
    use super::RequestCache;

    #[test]
    fn one_value_per_type_made_once() {
        let mut cache = RequestCache::default();
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
}
