//! The host's strings lent to a plugin as `RString`s, without a copy.
//!
//! Since interface 1.2 a plugin gets the request by reference (`&AuthRequest`)
//! for the length of one call: it can read the strings, clone them, but never
//! drop, grow or free them. So the adapter need not copy the host's strings
//! into buffers of their own: an `RString` can point at the host's bytes, as
//! long as
//! - it is made again from a live borrow before every call ([`LentStr`]'s
//!   users refresh each one from the `&Request` and `&State` of that call), and
//! - it is never dropped (dropping would free the host's buffer through the
//!   vtable). The containers of such strings forget them instead
//!   ([`forget_elements`]); only their own buffers are freed.
//!
//! `abi_stable` has no constructor for an `RVec` over borrowed memory, so one
//! is written with `RVec`'s field layout (`#[repr(C)]`: buffer, length,
//! capacity, vtable), which the test below checks against a real `RString`.
//! The capacity is the length (no spare room), the vtable the host's own.

use std::mem::{self, ManuallyDrop};

use abi_stable::std_types::{RString, RVec};

/// `RVec<u8>`'s (and so `RString`'s) layout.
#[repr(C)]
#[derive(Clone, Copy)]
struct Raw {
    buffer: *const u8,
    length: usize,
    capacity: usize,
    vtable: *const (),
}

const _: () = assert!(mem::size_of::<Raw>() == mem::size_of::<RString>());
const _: () = assert!(mem::size_of::<Raw>() == mem::size_of::<RVec<u8>>());

/// The host's vtable for byte vectors (never called for a lent value).
fn vtable() -> *const () {
    let empty = ManuallyDrop::new(RVec::<u8>::new());
    // SAFETY: `RVec<u8>` has `Raw`'s layout (checked above and by the tests).
    unsafe { mem::transmute_copy::<RVec<u8>, Raw>(&*empty) }.vtable
}

/// `bytes` as an `RVec<u8>` that does not own them.
///
/// # Safety
/// The result must not outlive `bytes`' borrow, must only be read through
/// `&`, and must never be dropped (forget it, or forget its container's
/// elements with [`forget_elements`]).
pub(super) unsafe fn bytes(bytes: &[u8]) -> RVec<u8> {
    if bytes.is_empty() {
        return RVec::new();
    }
    let raw = Raw {
        buffer: bytes.as_ptr(),
        length: bytes.len(),
        capacity: bytes.len(),
        vtable: vtable(),
    };
    // SAFETY: the layout is `RVec<u8>`'s; ownership is the caller's contract.
    unsafe { mem::transmute::<Raw, RVec<u8>>(raw) }
}

/// `text` as an `RString` that does not own it; see [`bytes`].
///
/// # Safety
/// As for [`bytes`].
pub(super) unsafe fn string(text: &str) -> RString {
    if text.is_empty() {
        return RString::new();
    }
    // SAFETY: the bytes are UTF-8 (a `&str`); `RString` is an `RVec<u8>`
    // (`#[repr(C)]`, its one field), and the contract passes on.
    unsafe { mem::transmute::<RVec<u8>, RString>(bytes(text.as_bytes())) }
}

/// Replaces the lent string in `slot` with one lent from `text`. The old one
/// is forgotten, not dropped.
///
/// # Safety
/// `slot` holds a lent string (or one without a buffer); the new one is
/// under [`bytes`]' contract.
pub(super) unsafe fn put(slot: &mut RString, text: &str) {
    // SAFETY: passed on to the caller.
    let _ = ManuallyDrop::new(mem::replace(slot, unsafe { string(text) }));
}

/// Forgets `v`'s elements (lent strings, or values made of them), keeping its
/// buffer for reuse: its length becomes 0.
pub(super) fn forget_elements<T>(v: &mut RVec<T>) {
    // SAFETY: shrinking the length only leaks the elements, which own nothing
    // of their own (they are lent).
    unsafe { v.set_len(0) }
}

/// Forgets `v`'s elements (as [`forget_elements`]) and makes sure it has
/// room for `count`: when it must grow, a new buffer is made directly rather
/// than grown through the vector's vtable (a call and std's grow path per
/// vector; measured). At least 4, so a state that grows by an entry a step
/// does not reallocate on every step.
pub(super) fn room_for<T>(v: &mut RVec<T>, count: usize) {
    forget_elements(v);
    if v.capacity() < count {
        // Its elements are forgotten: dropping the old one frees its buffer only.
        *v = RVec::with_capacity(count.max(4));
    }
}

#[cfg(test)]
mod tests {
    use std::mem::{self, ManuallyDrop};

    use abi_stable::std_types::{RString, RVec};

    use super::Raw;

    #[test]
    fn raw_has_the_layout_of_a_real_rstring() {
        let mut owned = RString::from("abc");
        owned.reserve(20);
        let raw = unsafe { mem::transmute_copy::<RString, Raw>(&owned) };
        assert_eq!(raw.buffer, owned.as_str().as_ptr());
        assert_eq!(raw.length, 3);
        assert_eq!(raw.capacity, owned.capacity());
        assert_eq!(raw.vtable, super::vtable(), "the host's own vtable");
    }

    #[test]
    fn a_lent_string_reads_the_hosts_bytes_and_clones_into_its_own() {
        let host = String::from("x-request-id");
        let lent = ManuallyDrop::new(unsafe { super::string(&host) });
        assert_eq!(lent.as_str(), "x-request-id");
        assert_eq!(lent.as_str().as_ptr(), host.as_ptr(), "not a copy");
        assert_eq!(lent.capacity(), host.len());
        let copy: RString = (*lent).clone();
        assert_ne!(copy.as_str().as_ptr(), host.as_ptr());
        drop(copy);
        assert_eq!(host, "x-request-id", "the host's string is untouched");
    }

    #[test]
    fn put_and_forget_elements_never_free_the_hosts_strings() {
        let (a, b) = (String::from("first"), String::from("second"));
        let mut slot = RString::new();
        unsafe { super::put(&mut slot, &a) };
        unsafe { super::put(&mut slot, &b) };
        assert_eq!(slot.as_str(), "second");
        let _ = ManuallyDrop::new(slot);
        let mut list = RVec::with_capacity(2);
        list.push(unsafe { super::string(&a) });
        list.push(unsafe { super::string(&b) });
        super::forget_elements(&mut list);
        assert!(list.is_empty() && list.capacity() >= 2);
        drop(list);
        assert_eq!((a.as_str(), b.as_str()), ("first", "second"));
    }

    #[test]
    fn room_for_keeps_a_big_enough_buffer_and_never_frees_lent_strings() {
        let (a, b) = (String::from("first"), String::from("second"));
        let mut list = RVec::new();
        super::room_for(&mut list, 1);
        assert_eq!(list.capacity(), 4, "at least 4");
        list.push(unsafe { super::string(&a) });
        let buffer = list.as_ptr();
        super::room_for(&mut list, 3);
        assert_eq!((list.len(), list.as_ptr()), (0, buffer), "kept, emptied");
        list.extend((0..5).map(|_| unsafe { super::string(&b) }));
        super::room_for(&mut list, 9);
        assert!(list.is_empty() && list.capacity() >= 9, "a new buffer");
        drop(list);
        assert_eq!((a.as_str(), b.as_str()), ("first", "second"));
    }
}
