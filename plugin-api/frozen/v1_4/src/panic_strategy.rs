//! The panic strategy this library was compiled with, recorded where the host
//! reads it before running any plugin code: the name of one exported symbol.
//!
//! The host contains a plugin's panic only if it unwinds (every entry point
//! catches it and turns it into an error for that one call). Under
//! `panic = "abort"` the first panic ends the whole host process, so the host
//! refuses such a library at load, naming the fix. It finds out from the ELF
//! dynamic symbol table, without `dlopen`: a library built with unwinding
//! exports `gatehouse_panic_strategy_unwind`, one built with `panic = "abort"`
//! exports `gatehouse_panic_strategy_abort`. Cargo compiles every crate of a
//! build with the profile's strategy, so this crate's `cfg(panic)` is the
//! library's. (Libraries built against 1.0, 1.1 or an earlier 1.2 build of this
//! crate export neither; the host loads them and logs that it cannot tell.)

/// Present in libraries built with `panic = "unwind"`; the value is unused.
#[cfg(panic = "unwind")]
#[used]
#[export_name = "gatehouse_panic_strategy_unwind"]
pub static PANIC_STRATEGY: u8 = 1;

/// Present in libraries built with `panic = "abort"`; the value is unused.
#[cfg(panic = "abort")]
#[used]
#[export_name = "gatehouse_panic_strategy_abort"]
pub static PANIC_STRATEGY: u8 = 2;
