//! Taking over what a plugin answered. An answer's parts (`RString`s and
//! `RVec`s) become the host's `String`s and `Vec`s in one of two ways:
//!
//! - **moved** (interface 1.4 and later): `into_string` / `into_vec`. A part
//!   the plugin made with the host's allocator (`HostAlloc`) carries the
//!   host's vtable, and abi_stable then hands its buffer over as it is: no
//!   copy, no call. A part the plugin allocated itself is copied and freed
//!   through its vtable (correct, only slower).
//! - **copied** (before 1.4, when every part is the plugin's): the contents
//!   are copied from a borrow, then the part is dropped whole through the
//!   plugin's vtable: one call frees a vector *and* all its elements' strings
//!   (moving each element's strings out would cost calls per string).
//!
//! Either way most of an answer's parts are empty and own no buffer
//! (capacity 0): those are forgotten instead, with no call at all.

use std::mem::ManuallyDrop;

use abi_stable::std_types::{RString, RVec};

/// `s` as the host's `String`, moved (`MOVE`) or copied; no call when it owns
/// no buffer.
pub(super) fn string<const MOVE: bool>(s: RString) -> String {
    if s.capacity() == 0 {
        // No buffer: nothing to free, so no destructor to run.
        let _ = ManuallyDrop::new(s);
        return String::new();
    }
    if MOVE {
        s.into_string()
    } else {
        // `s` is dropped here, through its vtable.
        copy(&s)
    }
}

/// A copy of `s` (which stays where it is, to be dropped with its container).
pub(super) fn copy(s: &RString) -> String {
    s.as_str().to_owned()
}

/// `v`'s elements as the host's, moved (`MOVE`: each element moved out and
/// converted by value with `moved`, then the emptied buffer freed through its
/// vtable) or copied (each converted from a borrow with `copied`, then `v`
/// dropped whole through its vtable); no call when it owns no buffer (and so
/// has no elements).
///
/// The moved vector is not taken over with `into_vec`: its elements become
/// the host's own types (of another size), so its buffer could not be reused
/// as it is (std's in-place collect would `realloc` it smaller, ~360
/// instructions each in jemalloc), and `into_vec` may have to ask the vtable
/// twice whose it is (abi_stable's pointer check can miss for a vtable
/// instantiated elsewhere in the host).
pub(super) fn vec<const MOVE: bool, T, U>(
    v: RVec<T>,
    moved: impl FnMut(T) -> U,
    copied: impl FnMut(&T) -> U,
) -> Vec<U> {
    if v.capacity() == 0 {
        debug_assert!(v.is_empty());
        let _ = ManuallyDrop::new(v);
        return Vec::new();
    }
    if MOVE {
        v.into_iter().map(moved).collect()
    } else {
        // `v` is dropped here, through its vtable.
        v.iter().map(copied).collect()
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
    fn a_copied_vector_with_a_buffer_drops_its_elements_and_a_moved_one_hands_them_over() {
        let copied = super::vec::<false, _, _>(RVec::from(vec![Counted, Counted]), |_| (), |_| ());
        assert_eq!((copied.len(), DROPPED.load(Ordering::SeqCst)), (2, 2));
        let moved = super::vec::<true, _, _>(RVec::from(vec![Counted]), |c| c, |_| Counted);
        assert_eq!(
            (moved.len(), DROPPED.load(Ordering::SeqCst)),
            (1, 2),
            "moved, not dropped"
        );
        drop(moved);
        assert_eq!(DROPPED.load(Ordering::SeqCst), 3);
        let mut reserved = RVec::<Counted>::new();
        reserved.reserve(4);
        assert!(super::vec::<false, _, _>(reserved, |_| (), |_| ()).is_empty());
        assert_eq!(DROPPED.load(Ordering::SeqCst), 3);
        assert_eq!(super::string::<false>(RString::from("owned")), "owned");
        assert_eq!(super::string::<true>(RString::from("owned")), "owned");
    }

    /// An `RVec` with no buffer whose vtable must never be called: the
    /// vtable pointer is a zeroed table, so any call through it (type id,
    /// destructor) would jump to address 0 and crash the test.
    fn poisoned<T>() -> RVec<T> {
        static ZEROS: [usize; 64] = [0; 64];
        let raw: [usize; 4] = [
            std::ptr::NonNull::<T>::dangling().as_ptr() as usize,
            0,
            0,
            ZEROS.as_ptr() as usize + 32 * std::mem::size_of::<usize>(),
        ];
        // SAFETY: `RVec` is `#[repr(C)]` {buffer, length, capacity, vtable}
        // (host/src/loader/abi/lend.rs checks this layout against a real
        // `RString`): an empty vector with a dangling buffer. It is only
        // handed to functions that must not touch its vtable.
        unsafe { std::mem::transmute::<[usize; 4], RVec<T>>(raw) }
    }

    #[test]
    fn an_empty_part_makes_no_vtable_call_moved_or_copied() {
        for moved in [true, false] {
            let out: Vec<String> = if moved {
                super::vec::<true, _, _>(poisoned::<RString>(), super::string::<true>, super::copy)
            } else {
                super::vec::<false, _, _>(
                    poisoned::<RString>(),
                    super::string::<false>,
                    super::copy,
                )
            };
            assert!(out.is_empty());
            // SAFETY: `RString` is `#[repr(C)]` over one `RVec<u8>`.
            let text = unsafe { std::mem::transmute::<RVec<u8>, RString>(poisoned::<u8>()) };
            let out = if moved {
                super::string::<true>(text)
            } else {
                super::string::<false>(text)
            };
            assert_eq!(out, "");
        }
    }
}
