//! The per-request cache that lets step adapters convert the request once per
//! chain run instead of once per step, and reuse what they made for it (its
//! buffers) in the next run on the same thread instead of making it again.

use std::{any::Any, cell::Cell, mem, ptr::NonNull};

use crate::model::Request;

/// A value a step adapter keeps in a run's [`RequestCache`].
///
/// When the run ends, the value is offered to the next run started on the same
/// thread: `recycle` makes it ready for another request (forgetting whatever
/// it holds of this one) and says whether it may be reused; `false` drops it.
pub trait RunSlot: Any + Send + Sync {
    /// Readies the value for a run of another request; `false` if it cannot be.
    fn recycle(&mut self) -> bool;
}

/// Values derived from one request, kept for the rest of its chain run.
///
/// Step adapters use it to convert the request into a plugin interface's types
/// once and lend it to every later step built against the same interface. Keyed
/// by type, so the chain needs to know nothing of those types. It belongs to
/// one request ([`RequestCache::request`]) for its whole life; it has no safe
/// constructor, so safe code cannot make one to swap with a run's.
///
/// Its values outlive it: a run's slots go to the thread's spare list when it
/// ends (those that [`RunSlot::recycle`] accepts), and the next run started on
/// that thread begins with them, so a run whose steps answer at once makes no
/// allocation here.
pub struct RequestCache {
    /// The request of the run (see `new`'s contract).
    request: NonNull<Request>,
    slots: Vec<Box<dyn RunSlot>>,
}

thread_local! {
    /// The slots of the last run that ended on this thread, for the next one.
    static SPARE: Cell<Vec<Box<dyn RunSlot>>> = const { Cell::new(Vec::new()) };
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
    /// the request, and [`StepInput::new`](super::StepInput::new) hands it to
    /// steps by reference.
    pub unsafe fn new(request: &Request) -> Self {
        Self {
            request: NonNull::from(request),
            // Gone only while the thread ends: then the run starts empty.
            slots: SPARE.try_with(Cell::take).unwrap_or_default(),
        }
    }

    /// The request this cache belongs to.
    pub fn request(&self) -> &Request {
        // SAFETY: it outlives the cache (`new`'s contract).
        unsafe { self.request.as_ref() }
    }

    /// The request, for a borrow as long as the caller's borrow of the cache.
    ///
    /// # Safety
    ///
    /// The result must not outlive the cache (`'a` is the caller's to bound).
    pub(super) unsafe fn request_for_run<'a>(&self) -> &'a Request {
        // SAFETY: it outlives the cache (`new`'s contract), the caller bounds `'a`.
        unsafe { self.request.as_ref() }
    }

    /// The cached `T`, made by `make` on first use in this chain run (or
    /// recycled from an earlier run on this thread).
    pub fn get_or_insert_with<T, F>(&mut self, make: F) -> &mut T
    where
        T: RunSlot,
        F: FnOnce() -> T,
    {
        let index = match self.slots.iter().position(|slot| is::<T>(&**slot)) {
            Some(index) => index,
            None => {
                self.slots.push(Box::new(make()));
                self.slots.len() - 1
            }
        };
        let slot: &mut dyn Any = &mut *self.slots[index];
        slot.downcast_mut::<T>()
            .expect("the slot was found or made for this type")
    }
}

/// Whether `slot` is a `T` (through `Any`, not the box's own type).
fn is<T: RunSlot>(slot: &dyn RunSlot) -> bool {
    let slot: &dyn Any = slot;
    slot.is::<T>()
}

impl Drop for RequestCache {
    fn drop(&mut self) {
        let mut slots = mem::take(&mut self.slots);
        slots.retain_mut(|slot| slot.recycle());
        // A run that ends while another run's slots are spare replaces them;
        // a thread that is ending drops them.
        let _ = SPARE.try_with(|spare| spare.set(slots));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{RequestCache, RunSlot};
    use crate::model::Request;

    /// A slot that counts its uses and is recycled while `keep` is set.
    struct Counter {
        uses: u32,
        recycled: u32,
        keep: bool,
    }

    impl RunSlot for Counter {
        fn recycle(&mut self) -> bool {
            self.recycled += 1;
            self.keep
        }
    }

    impl RunSlot for String {
        fn recycle(&mut self) -> bool {
            self.clear();
            true
        }
    }

    fn counter(made: &Cell<u32>, keep: bool) -> impl FnOnce() -> Counter + '_ {
        move || {
            made.set(made.get() + 1);
            Counter {
                uses: 0,
                recycled: 0,
                keep,
            }
        }
    }

    /// Runs of `request` on this thread, each using a `Counter` once; what the
    /// last one saw.
    fn runs(request: &Request, made: &Cell<u32>, keep: bool, count: u32) -> (u32, u32) {
        let mut seen = (0, 0);
        for _ in 0..count {
            // SAFETY: `request` outlives the cache.
            let mut cache = unsafe { RequestCache::new(request) };
            let c = cache.get_or_insert_with(counter(made, keep));
            c.uses += 1;
            seen = (c.uses, c.recycled);
        }
        seen
    }

    #[test]
    fn one_value_per_type_made_once() {
        std::thread::spawn(|| {
            let request = Request::default();
            // SAFETY: `request` outlives the cache.
            let mut cache = unsafe { RequestCache::new(&request) };
            let made = Cell::new(0);
            cache.get_or_insert_with(counter(&made, true)).uses += 1;
            let again = cache.get_or_insert_with(counter(&made, true)).uses;
            let other = cache.get_or_insert_with(|| String::from("x")).clone();
            assert_eq!((again, other.as_str(), made.get()), (1, "x", 1));
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_later_run_on_the_thread_reuses_a_recycled_slot() {
        std::thread::spawn(|| {
            let request = Request::default();
            let made = Cell::new(0);
            assert_eq!(
                runs(&request, &made, true, 3),
                (3, 2),
                "one value, recycled twice"
            );
            assert_eq!(made.get(), 1);
            // SAFETY: `request` outlives the cache.
            let mut cache = unsafe { RequestCache::new(&request) };
            let text = cache.get_or_insert_with(|| String::from("first run"));
            assert_eq!(text, "first run", "made here: no spare String yet");
            text.push_str(" and more");
            drop(cache);
            // SAFETY: as above.
            let mut cache = unsafe { RequestCache::new(&request) };
            let text = cache.get_or_insert_with(|| String::from("made again"));
            assert_eq!(text, "", "recycled (cleared), not made");
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_slot_that_refuses_recycling_is_made_anew() {
        std::thread::spawn(|| {
            let request = Request::default();
            let made = Cell::new(0);
            assert_eq!(runs(&request, &made, false, 3), (1, 0));
            assert_eq!(made.get(), 3, "made for every run");
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn runs_at_once_on_one_thread_each_have_their_own() {
        std::thread::spawn(|| {
            let request = Request::default();
            let made = Cell::new(0);
            runs(&request, &made, true, 1);
            // SAFETY: `request` outlives both caches.
            let (mut first, mut second) =
                unsafe { (RequestCache::new(&request), RequestCache::new(&request)) };
            first.get_or_insert_with(counter(&made, true)).uses += 1;
            let second_uses = second.get_or_insert_with(counter(&made, true)).uses;
            assert_eq!(
                (second_uses, made.get()),
                (0, 2),
                "the spare went to the first run"
            );
            drop((first, second));
            assert_eq!(
                runs(&request, &made, true, 1),
                (1, 1),
                "one spare kept, recycled"
            );
            assert_eq!(made.get(), 2);
        })
        .join()
        .expect("the test thread");
    }
}
