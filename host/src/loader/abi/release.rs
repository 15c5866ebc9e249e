//! Dropping what a plugin allocated. A plugin's `RString`s and `RVec`s are
//! freed through the plugin's own vtable (its allocator): one call across the
//! boundary each. Most of an answer's fields are empty and own no buffer
//! (capacity 0): those are forgotten instead, with nothing to free.

use std::mem::ManuallyDrop;

use abi_stable::std_types::{RString, RVec};

/// Drops `s`, without a call into the plugin when it owns no buffer.
pub(super) fn string(s: RString) {
    if s.capacity() == 0 {
        // No buffer: nothing to free, so no destructor to run.
        let _ = ManuallyDrop::new(s);
    }
}

/// Drops `v` and its elements, without a call into the plugin when it owns no
/// buffer (and so has no elements).
pub(super) fn vec<T>(v: RVec<T>) {
    if v.capacity() == 0 {
        debug_assert!(v.is_empty());
        let _ = ManuallyDrop::new(v);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use abi_stable::std_types::{RString, RVec};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    struct Counted;

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_vector_with_a_buffer_drops_its_elements() {
        super::vec(RVec::from(vec![Counted, Counted]));
        assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
        super::vec(RVec::<Counted>::new());
        let mut reserved = RVec::<Counted>::new();
        reserved.reserve(4);
        super::vec(reserved);
        assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
        super::string(RString::from("owned"));
        super::string(RString::new());
    }
}
