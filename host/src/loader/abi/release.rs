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

use std::{mem::ManuallyDrop, sync::OnceLock};

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
        take(s)
    } else {
        // `s` is dropped here, through its vtable.
        copy(&s)
    }
}

/// A string of the host's: what `HostAlloc::string` hands a plugin. All of
/// them carry the one vtable [`take`] recognises: never inlined, so that
/// this one function (one codegen unit) makes every one of them.
#[inline(never)]
pub(super) fn host_string(text: &str) -> RString {
    RString::from(text)
}

/// `s` taken over. abi_stable's `into_string` recognises the host's own
/// strings by the *address* of their vtable, a constant of which each of
/// the host's codegen units has a copy: for the strings `host_string` makes
/// it missed every time (measured), and then asked both vtables for their
/// type ids (calls into each) before taking the buffer over anyway. Here the
/// strings `host_string` makes are recognised by that one vtable's address,
/// read once from one of them; any other string goes to `into_string`
/// (taken over if it is the host's after all, else copied and freed through
/// its own vtable).
fn take(s: RString) -> String {
    static HOST: OnceLock<usize> = OnceLock::new();
    let host = *HOST.get_or_init(|| vtable(&host_string("x")));
    if vtable(&s) != host {
        return s.into_string();
    }
    let s = ManuallyDrop::new(s);
    // The buffer pointer as stored (not derived from a borrow of the bytes).
    let (buffer, length, capacity) = (s.as_ptr().cast_mut(), s.len(), s.capacity());
    // SAFETY: `s` has the vtable of the strings `host_string` makes, i.e.
    // abi_stable's `RVec<u8>` vtable of this binary: its buffer is a
    // `Vec<u8>`'s of this binary's global allocator (the vtable's destructor
    // frees it as one; growth through it reallocates it as one), `length`
    // bytes of UTF-8 (an `RString`'s), `capacity` allocated. `s` is
    // forgotten: the `String` is the buffer's only owner. This is what
    // `into_string` does when its own check holds.
    unsafe { String::from_raw_parts(buffer, length, capacity) }
}

/// The vtable word of `s`, an `RString` or an `RVec`: both are `#[repr(C)]`
/// {buffer, length, capacity, vtable} (`RString` over one `RVec<u8>`;
/// host/src/loader/abi/lend.rs checks this layout against a real `RString`).
fn vtable<V>(s: &V) -> usize {
    const { assert!(std::mem::size_of::<V>() == 4 * std::mem::size_of::<usize>()) };
    // SAFETY: a bitwise copy of a 4-word value as 4 words; nothing is
    // dropped or duplicated as an owner (only the words are read).
    let words = unsafe { std::mem::transmute_copy::<V, [usize; 4]>(s) };
    words[3]
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
        moved_out(v, moved)
    } else {
        // `v` is dropped here, through its vtable.
        v.iter().map(copied).collect()
    }
}

/// `v`'s elements moved out one by one into a `Vec` of their conversions,
/// then its emptied buffer freed (`free_empty`): what `into_iter().map()
/// .collect()` does, without the iterator's calls per element (measured).
fn moved_out<T, U>(mut v: RVec<T>, mut moved: impl FnMut(T) -> U) -> Vec<U> {
    let length = v.len();
    let mut out = Vec::with_capacity(length);
    // SAFETY: the length is set to 0 first, so `v` drops none of the
    // elements (a panic in `moved` leaks the rest, it never drops one twice);
    // each of the `length` initialised elements is then read exactly once.
    unsafe {
        v.set_len(0);
        let elements = v.as_ptr();
        for index in 0..length {
            out.push(moved(std::ptr::read(elements.add(index))));
        }
    }
    free_empty(v);
    out
}

/// Frees the buffer of `v` (which has no elements left): directly when it is
/// this binary's own `RVec<T>` (recognised by its vtable word, as `take`
/// recognises strings), else through its vtable. Saves a call per vector.
fn free_empty<T>(v: RVec<T>) {
    debug_assert!(v.is_empty());
    if !is_own(&v) {
        return drop(v);
    }
    let v = std::mem::ManuallyDrop::new(v);
    // SAFETY: `v` has this binary's `RVec<T>` vtable: its buffer is a
    // `Vec<T>`'s of this binary's global allocator with `capacity` elements,
    // and it holds none (`moved_out` read them all and set the length to 0).
    // `v` is forgotten: the `Vec` is the buffer's only owner.
    drop(unsafe { Vec::from_raw_parts(v.as_ptr().cast_mut(), 0, v.capacity()) });
}

/// Whether `v` carries this binary's `RVec<T>` vtable (read from an empty
/// one: with one codegen unit there is one; a miss only costs the call).
fn is_own<T>(v: &RVec<T>) -> bool {
    vtable(v) == vtable(&*ManuallyDrop::new(RVec::<T>::new()))
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
    fn the_hosts_strings_share_one_vtable_word_and_are_taken_over_in_place() {
        let (mut a, b) = (super::host_string("a"), super::host_string("a longer one"));
        a.push_str(&"x".repeat(100));
        assert_eq!(super::vtable(&a), super::vtable(&b));
        assert_ne!(super::vtable(&a), a.as_ptr() as usize, "not the buffer");
        let (buffer, text) = (a.as_ptr(), a.to_string());
        let taken = super::string::<true>(a);
        assert_eq!((taken.as_ptr(), taken), (buffer, text));
        assert_eq!(super::string::<true>(b), "a longer one");
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
    fn the_hosts_own_vectors_are_recognised_and_no_other() {
        let mut own = RVec::from(vec![1u32]);
        own.extend(2..40); // grown through the vtable
        assert!(super::is_own(&own) && super::is_own(&RVec::<RString>::new()));
        // Never dropped: its vtable is poisoned.
        assert!(!super::is_own(&std::mem::ManuallyDrop::new(
            poisoned::<u32>()
        )));
        let moved = super::vec::<true, _, _>(own, |n| n * 2, |n| *n);
        assert_eq!(moved, (1..40).map(|n| n * 2).collect::<Vec<_>>());
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
