//! The one place where ABI types meet host types.
//!
//! Every supported interface version is a frozen copy of the interface crate
//! with the same type *names* but distinct types. `interface_version!` writes,
//! per copy, the conversions (host ⇄ ABI) and the adapters (ABI service → host
//! [`Step`], host cancellation → ABI stop signal) from one template.
//! [`interfaces!`] at the end is THE list of supported versions: the adapter
//! modules, [`SUPPORTED_INTERFACES`], the [`Module`] the loader dispatches on
//! and the advice for unsupported versions all follow from it, and tests check
//! that the frozen crates, the host's dependencies on them and the checked-in
//! layout dumps (`plugin-api/layouts/`) match it. Adding a version is one line
//! there, its frozen crate and its dump.
//!
//! Call modes: up to 1.1 `authorize` takes the request by value (copied per
//! step, `owned`); 1.2 borrows it (lent, not copied: `borrowed`, see `lend`);
//! from 1.3 `authorize_in` also gets the call's context and the factory a log
//! sink (`context`). From 1.4 the host also attaches its allocator to the
//! library when it loads it (`host_alloc`), so the answer's strings and vectors
//! are the host's and are moved out of it, not copied (see `release`). From 1.5
//! the host makes the answer itself (`host_answer`: `Built`, a `StepOutcome`
//! the plugin adds each effect to) and `authorize_answer` returns it (`answer`),
//! so it is taken as it is, with no conversion.

mod lend;
mod release;

use std::sync::atomic::{AtomicU64, Ordering};

use abi_stable::library::{LibHeader, LibraryError};
use tokio_util::sync::CancellationToken;

use crate::chain::Step;

/// A configured plugin instance as the host uses it.
pub trait Instance: Step {
    /// Starts the instance; background work ends when `stop` is cancelled.
    fn start(&self, stop: CancellationToken) -> Result<(), String>;
}

/// The cancellations of one chain run's calls (interface 1.3 and later), kept
/// in the run's [`RequestCache`](crate::chain::RequestCache): one allocation
/// per run, not per step. The run's steps are called one after another (each
/// borrows the cache mutably), so call `n` has ended once `ended > n`: a step
/// that timed out is cancelled while the next one, its own signal untouched,
/// runs.
#[derive(Default)]
pub(super) struct RunCancel {
    shared: std::sync::Arc<CancelState>,
}

impl RunCancel {
    /// Starts the run's next call: its guard fires the call's cancellation
    /// when dropped. It borrows the run's state (no reference count per call).
    pub(super) fn next_call(&mut self) -> FireOnDrop<'_> {
        let call = self.shared.started.load(Ordering::Relaxed);
        // Only this (`&mut`) writes it; `CurrentCall` reads it.
        self.shared.started.store(call + 1, Ordering::SeqCst);
        FireOnDrop {
            run: &self.shared,
            call,
        }
    }

    /// Readies the run's state for another run if nothing but the run holds
    /// it (`holders` counts the run's own references, its context's signal
    /// included): then no plugin kept a clone of a call's signal, and no one
    /// can make one. The run's calls have all ended (its futures are gone).
    pub(super) fn recycle(&mut self, holders: usize) -> bool {
        let alone = std::sync::Arc::strong_count(&self.shared) == holders
            && std::sync::Arc::weak_count(&self.shared) == 0;
        if alone {
            let state = &*self.shared;
            state.started.store(0, Ordering::SeqCst);
            state.ended.store(0, Ordering::SeqCst);
            state.watched.store(false, Ordering::SeqCst);
        }
        alone
    }

    /// The signal of whichever call of the run was started last: what the
    /// run's one lent `CallContext` carries (a plugin reaches it only during
    /// its own call, which is then the last one started).
    pub(super) fn current(&self) -> CurrentCall {
        CurrentCall(self.shared.clone())
    }
}

#[derive(Default)]
struct CancelState {
    /// How many of the run's calls have started.
    started: AtomicU64,
    /// How many of the run's calls have ended (they end in order).
    ended: AtomicU64,
    /// Whether anything ever waited on `waiters` (set before it first
    /// does): until then a call's end notifies no one (no lock per call).
    watched: std::sync::atomic::AtomicBool,
    waiters: tokio::sync::Notify,
}

/// The run's current call (see [`RunCancel::current`]).
pub(super) struct CurrentCall(std::sync::Arc<CancelState>);

impl CurrentCall {
    /// The current call's own cancellation (what a clone of the signal is:
    /// it stays with this call when the run moves on).
    pub(super) fn call(&self) -> CallCancel {
        CallCancel {
            run: self.0.clone(),
            call: self.0.started.load(Ordering::SeqCst).saturating_sub(1),
        }
    }

    /// True once the current call ended.
    pub(super) fn is_cancelled(&self) -> bool {
        self.0.ended.load(Ordering::SeqCst) >= self.0.started.load(Ordering::SeqCst)
    }
}

/// One `authorize` call's cancellation: fired when the call's future ends
/// (answered, or dropped after a timeout or when the client left); a plugin's
/// clones, and futures spawned from them, see it after the call.
#[derive(Clone)]
pub(super) struct CallCancel {
    run: std::sync::Arc<CancelState>,
    call: u64,
}

impl CallCancel {
    /// True once the call ended.
    pub(super) fn is_cancelled(&self) -> bool {
        self.run.ended.load(Ordering::SeqCst) > self.call
    }

    /// Completes once the call ended; needs no runtime.
    pub(super) async fn cancelled(self) {
        // Before any `notified`: a call that ends after this store sees it
        // and notifies; one that ended before it is seen by the check below.
        self.run.watched.store(true, Ordering::SeqCst);
        loop {
            // Made before the check: a `notify_waiters` after it wakes it.
            let notified = self.run.waiters.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Fires one call's cancellation when dropped (see [`RunCancel::next_call`]).
pub(super) struct FireOnDrop<'r> {
    run: &'r std::sync::Arc<CancelState>,
    call: u64,
}

impl FireOnDrop<'_> {
    /// The call's cancellation, as a plugin's clone of its signal holds it.
    #[cfg(test)]
    pub(super) fn call(&self) -> CallCancel {
        CallCancel {
            run: self.run.clone(),
            call: self.call,
        }
    }
}

impl Drop for FireOnDrop<'_> {
    fn drop(&mut self) {
        self.run.ended.fetch_max(self.call + 1, Ordering::SeqCst);
        // SeqCst with `cancelled`'s store and check: either it sees `watched`
        // and notifies, or the waiter's check sees `ended` (no lost wakeup).
        if self.run.watched.load(Ordering::SeqCst) {
            self.run.waiters.notify_waiters();
        }
    }
}

/// `budget` in whole milliseconds, as interface 1.3's `budget_ms`.
pub(super) fn budget_ms(budget: std::time::Duration) -> u64 {
    u64::try_from(budget.as_millis()).unwrap_or(u64::MAX)
}

/// How a factory call failed, independent of the interface version.
pub(super) struct FactoryError {
    pub(super) kind: FactoryErrorKind,
    pub(super) message: String,
}

/// The category of a factory failure.
pub(super) enum FactoryErrorKind {
    Config,
    UnknownPlugin,
    Panic,
    Internal,
}

/// Writes the adapter module `$module` for the interface crate `$api`.
///
/// `$call` says how that version's `AuthService::authorize` takes the request:
/// - `owned` (1.0, 1.1): by value, so each step gets its own copy of the
///   request and the state;
/// - `borrowed` (1.2 and later): by reference, so the host's request and state
///   are lent without a copy (`lend`), through one `Lent` per chain run kept in
///   the run's [`RequestCache`](crate::chain::RequestCache) (its vectors' buffers
///   are reused by every step of this version);
/// - `context` (1.3, 1.4): borrowed, through `authorize_in` with the call's
///   context (budget, cancellation, metadata), and a log sink per instance;
/// - `answer` (1.5 and later): as `context`, through `authorize_answer`, whose
///   answer is an `Answer` (the host's own `Built` taken as it is).
///
/// `$alloc` says whose allocator the answer's parts come from:
/// - `no_host_alloc` (up to 1.3): the plugin's, so they are copied and each
///   part is then dropped whole through the plugin's vtable;
/// - `host_alloc` (1.4): the host's, attached to the library when it is
///   loaded, so they are moved out without a copy;
/// - `host_answer` (1.5 and later): as `host_alloc`, and the host also makes
///   the answer (`Built`), which the `answer` call mode takes as it is.
macro_rules! interface_version {
    ($module:ident, $api:ident, $call:ident, $info:ident, $alloc:ident) => {
        pub(super) mod $module {
            use std::sync::Arc;

            use abi_stable::{
                sabi_trait::TD_Opaque,
                std_types::{ROption, RResult, RStr, RString, RVec},
            };
            use futures::future::BoxFuture;
            use tokio_util::sync::CancellationToken;
            use $api as abi;
            use $api::async_ffi::{FfiFuture, FutureExt};

            use super::{FactoryError, FactoryErrorKind, Instance};
            use crate::{
                chain::{Step, StepError, StepInput},
                model::{AppendAction, HeaderOp, Request, State, StepOutcome},
            };

            /// The root module of a library built against this version.
            pub(in crate::loader) type ModRef = abi::PluginModRef;

            /// The names the library exports.
            pub(in crate::loader) fn plugin_names(module: ModRef) -> Vec<String> {
                (module.plugin_names())()
                    .into_iter()
                    .map(String::from)
                    .collect()
            }

            /// Calls the library's factory for plugin `name` of step `step`.
            pub(in crate::loader) fn new_instance(
                module: ModRef,
                name: &str,
                step: &str,
                config: &str,
            ) -> Result<Arc<dyn Instance>, FactoryError> {
                let service = interface_version!(@factory $call, module, name, step, config);
                match service {
                    RResult::ROk(service) => Ok(Arc::new(Service(service))),
                    RResult::RErr(e) => Err(FactoryError {
                        kind: match e.kind {
                            abi::ErrorKind::Config => FactoryErrorKind::Config,
                            abi::ErrorKind::UnknownPlugin => FactoryErrorKind::UnknownPlugin,
                            abi::ErrorKind::Panic => FactoryErrorKind::Panic,
                            abi::ErrorKind::Internal => FactoryErrorKind::Internal,
                        },
                        message: e.message.into(),
                    }),
                }
            }

            #[allow(dead_code)] // the `owned` call mode copies; the others lend
            fn kv<'s>(
                pairs: impl IntoIterator<Item = (&'s String, &'s String)>,
            ) -> RVec<abi::KeyValue> {
                pairs
                    .into_iter()
                    .map(|(key, value)| abi::KeyValue {
                        key: key.as_str().into(),
                        value: value.as_str().into(),
                    })
                    .collect()
            }

            #[allow(dead_code)] // the `owned` call mode copies; the others lend
            fn peer(p: &crate::model::Peer) -> abi::Peer {
                abi::Peer {
                    address: p.address.as_str().into(),
                    port: p.port,
                    principal: p.principal.as_str().into(),
                    certificate: p.certificate.as_str().into(),
                }
            }

            /// The request and `state` copied into this version's types, for
            /// a plugin that takes them by value (`owned`).
            #[allow(dead_code)] // the `owned` call mode copies; the others lend
            fn request(r: &Request, state: &State) -> abi::AuthRequest {
                abi::AuthRequest {
                    id: r.id.as_str().into(),
                    method: r.method.as_str().into(),
                    scheme: r.scheme.as_str().into(),
                    host: r.host.as_str().into(),
                    path: r.path.as_str().into(),
                    headers: r
                        .headers
                        .iter()
                        .map(|(n, v)| abi::Header {
                            name: n.as_str().into(),
                            value: v.as_str().into(),
                        })
                        .collect(),
                    body: r.body.as_ref().map(|b| RVec::from(b.as_slice())).into(),
                    source: peer(&r.source),
                    destination: peer(&r.destination),
                    tls_sni: r.tls_sni.as_str().into(),
                    context_extensions: kv(&r.context_extensions),
                    state: kv(state),
                }
            }

            /// This version's request for a plugin that borrows it (1.2 and
            /// later), lent from the host's `Request` and `State` without a
            /// copy (see `lend`). One per chain run, in the run's cache: the
            /// request's parts are lent once, on the run's first call of this
            /// version, and `state` (which changes from step to step) anew
            /// before every call, into the same buffers.
            #[allow(dead_code)] // the `owned` call mode copies instead
            #[derive(Default)]
            struct Lent {
                request: std::mem::ManuallyDrop<abi::AuthRequest>,
                /// Whether the request's parts are lent already.
                lent: bool,
            }

            #[allow(dead_code)]
            impl Lent {
                /// The request lent from `r` and `state`, for as long as they
                /// are borrowed.
                ///
                /// # Safety
                ///
                /// `r` is the same request on every call, and outlives this
                /// `Lent`: the request of the `RequestCache` it lives in.
                unsafe fn lend<'a>(&'a mut self, r: &'a Request, state: &'a State) -> &'a abi::AuthRequest {
                    use super::lend;
                    let a = &mut *self.request;
                    // SAFETY: every string is lent from `r` or `state` and is
                    // only read through the returned borrow; `r`'s are lent
                    // once and stay valid (the caller's contract), `state`'s
                    // anew for this borrow. The previous ones are forgotten
                    // (`forget_elements`), never dropped (also in `drop`).
                    unsafe {
                        if !std::mem::replace(&mut self.lent, true) {
                            Self::lend_request(a, r);
                        }
                        lend::room_for(&mut a.state, state.len());
                        a.state.extend(state.iter().map(|(k, v)| abi::KeyValue {
                            key: lend::string(k),
                            value: lend::string(v),
                        }));
                    }
                    a
                }

                /// Lends `r`'s parts into `a` (whose strings are all empty).
                unsafe fn lend_request(a: &mut abi::AuthRequest, r: &Request) {
                    use super::lend;
                    // SAFETY: as `lend`; the strings replaced are empty ones.
                    unsafe {
                        lend::put(&mut a.id, &r.id);
                        lend::put(&mut a.method, &r.method);
                        lend::put(&mut a.scheme, &r.scheme);
                        lend::put(&mut a.host, &r.host);
                        lend::put(&mut a.path, &r.path);
                        lend::room_for(&mut a.headers, r.headers.len());
                        a.headers.extend(r.headers.iter().map(|(n, v)| abi::Header {
                            name: lend::string(n),
                            value: lend::string(v),
                        }));
                        // The old body (lent for an earlier run) is forgotten.
                        let body = r.body.as_ref().map_or(ROption::RNone, |b| ROption::RSome(lend::bytes(b)));
                        let _ = std::mem::ManuallyDrop::new(std::mem::replace(&mut a.body, body));
                        for (to, from) in [(&mut a.source, &r.source), (&mut a.destination, &r.destination)] {
                            lend::put(&mut to.address, &from.address);
                            to.port = from.port;
                            lend::put(&mut to.principal, &from.principal);
                            lend::put(&mut to.certificate, &from.certificate);
                        }
                        lend::put(&mut a.tls_sni, &r.tls_sni);
                        lend::room_for(&mut a.context_extensions, r.context_extensions.len());
                        a.context_extensions.extend(r.context_extensions.iter().map(|(k, v)| abi::KeyValue {
                            key: lend::string(k),
                            value: lend::string(v),
                        }));
                    }
                }
            }

            /// What a plugin is lent on two calls of one run with `r`: per
            /// call, where each header name's bytes are and the state's pairs.
            #[cfg(test)]
            #[allow(dead_code)]
            pub(in crate::loader) fn lent_twice(
                r: &Request,
                states: [&State; 2],
            ) -> Vec<(Vec<*const u8>, Vec<(String, String)>)> {
                let mut lent = Lent::default();
                states
                    .into_iter()
                    .map(|state| {
                        // SAFETY: one request on every call, outliving `lent`.
                        let a = unsafe { lent.lend(r, state) };
                        let names = a.headers.iter().map(|h| h.name.as_str().as_ptr()).collect();
                        let pairs = a.state.iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
                        (names, pairs)
                    })
                    .collect()
            }

            /// A later run lends its own request's parts again.
            impl crate::chain::RunSlot for Lent {
                fn recycle(&mut self) -> bool {
                    self.lent = false;
                    true
                }
            }

            /// The body a plugin is lent in a run of `first`, then (the
            /// `Lent` recycled) in a run of `second`.
            #[cfg(test)]
            #[allow(dead_code)]
            pub(in crate::loader) fn bodies_of_two_runs(first: &Request, second: &Request) -> [Option<Vec<u8>>; 2] {
                use crate::chain::RunSlot;
                let mut lent = Lent::default();
                let state = State::new();
                [first, second].map(|r| {
                    // SAFETY: one request per run (recycled between), outliving the borrow.
                    let body = unsafe { lent.lend(r, &state) }.body.as_ref().map(|b| b.to_vec()).into_option();
                    assert!(lent.recycle());
                    body
                })
            }

            impl Drop for Lent {
                fn drop(&mut self) {
                    // The vectors' buffers are the host's; their elements and
                    // every string are lent, left to the `ManuallyDrop`.
                    let a = &mut *self.request;
                    super::lend::forget_elements(&mut a.headers);
                    drop(std::mem::take(&mut a.headers));
                    for list in [&mut a.context_extensions, &mut a.state] {
                        super::lend::forget_elements(list);
                        drop(std::mem::take(list));
                    }
                }
            }

            // Whose allocator the answer is in (`MOVED`), and the attach step.
            interface_version!(@alloc $alloc);

            fn action(action: abi::AppendAction) -> AppendAction {
                match action {
                    abi::AppendAction::AppendIfExistsOrAdd => AppendAction::AppendIfExistsOrAdd,
                    abi::AppendAction::AddIfAbsent => AppendAction::AddIfAbsent,
                    abi::AppendAction::OverwriteIfExistsOrAdd => {
                        AppendAction::OverwriteIfExistsOrAdd
                    }
                    abi::AppendAction::OverwriteIfExists => AppendAction::OverwriteIfExists,
                }
            }

            /// The plugin's header mutations, as the host's.
            fn header_ops(ops: RVec<abi::HeaderMutation>) -> Vec<HeaderOp> {
                use super::release::{copy, string};
                super::release::vec::<MOVED, _, _>(
                    ops,
                    |m| HeaderOp {
                        name: string::<MOVED>(m.name),
                        value: string::<MOVED>(m.value),
                        action: action(m.action),
                    },
                    |m| HeaderOp {
                        name: copy(&m.name),
                        value: copy(&m.value),
                        action: action(m.action),
                    },
                )
            }

            fn pairs(entries: RVec<abi::KeyValue>) -> Vec<(String, String)> {
                use super::release::{copy, string};
                super::release::vec::<MOVED, _, _>(
                    entries,
                    |e| (string::<MOVED>(e.key), string::<MOVED>(e.value)),
                    |e| (copy(&e.key), copy(&e.value)),
                )
            }

            fn strings(items: RVec<RString>) -> Vec<String> {
                use super::release::{copy, string};
                super::release::vec::<MOVED, _, _>(items, string::<MOVED>, copy)
            }

            /// A plugin's answer in the chain's terms, each part moved or
            /// copied as `MOVED` says (see `release`); a part without a buffer
            /// costs no call into either allocator.
            fn outcome(r: abi::AuthResponse) -> StepOutcome {
                let abi::AuthResponse {
                    decision,
                    status,
                    body,
                    request_headers,
                    remove_request_headers,
                    response_headers,
                    user_id,
                    dynamic_metadata,
                    state_set,
                    state_remove,
                } = r;
                StepOutcome {
                    allow: decision == abi::Decision::Allow,
                    status,
                    body: super::release::string::<MOVED>(body),
                    request_headers: header_ops(request_headers),
                    remove_request_headers: strings(remove_request_headers),
                    response_headers: header_ops(response_headers),
                    user_id: Some(super::release::string::<MOVED>(user_id))
                        .filter(|u| !u.is_empty()),
                    dynamic_metadata: pairs(dynamic_metadata),
                    state_set: pairs(state_set),
                    state_remove: strings(state_remove),
                }
            }

            fn error(e: abi::PluginError) -> StepError {
                match e.kind {
                    abi::ErrorKind::Panic => StepError::Panic(e.message.into()),
                    _ => StepError::Plugin(e.message.into()),
                }
            }

            /// The host's cancellation token as this version's stop signal.
            #[derive(Clone)]
            struct Stop(CancellationToken);

            impl abi::StopSignal for Stop {
                fn is_stopped(&self) -> bool {
                    self.0.is_cancelled()
                }

                fn stopped(&self) -> FfiFuture<()> {
                    let token = self.0.clone();
                    async move { token.cancelled().await }.into_ffi()
                }
            }

            /// Awaits the plugin's answer and puts it in the chain's terms.
            #[allow(dead_code)] // the `context` call mode awaits in its own future
            fn answer<'a>(
                future: impl std::future::Future<
                        Output = RResult<abi::AuthResponse, abi::PluginError>,
                    > + Send
                    + 'a,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                Box::pin(async move { result(future.await) })
            }

            /// A plugin's answer as the chain's.
            #[allow(dead_code)] // the `answer` call mode reads `Built` answers
            fn result(
                answer: RResult<abi::AuthResponse, abi::PluginError>,
            ) -> Result<StepOutcome, StepError> {
                match answer {
                    RResult::ROk(response) => Ok(outcome(response)),
                    RResult::RErr(e) => Err(error(e)),
                }
            }

            /// The library's build info (interface 1.1 and later).
            pub(in crate::loader) fn build_info(module: ModRef) -> Option<String> {
                interface_version!(@info $info, module)
            }

            /// A plugin service of this version, adapted to the chain's `Step`.
            struct Service(abi::AuthServiceBox);

            interface_version!(@step $call);

            impl Instance for Service {
                fn start(&self, stop: CancellationToken) -> Result<(), String> {
                    let stop = abi::StopSignal_TO::from_value(Stop(stop), TD_Opaque);
                    self.0
                        .start(stop)
                        .into_result()
                        .map_err(|e| e.message.into())
                }
            }
        }
    };

    // Up to 1.3 the answer is the plugin allocator's: copied.
    (@alloc no_host_alloc) => {
        /// Whether the answer's parts are moved out (see `release`).
        const MOVED: bool = false;

        /// Nothing to attach before 1.4.
        pub(in crate::loader) fn attach(module: ModRef) {
            let _ = module;
        }
    };
    // From 1.4 the library gets the host's allocator when it is loaded, and
    // the answer's parts are moved out of it (zero-copy when they are the host's).
    (@alloc host_alloc) => {
        interface_version!(@host_alloc {});
    };
    // From 1.5 the host also makes the answer itself (`Built`), and a plugin
    // adds its effects to it one call at a time.
    (@alloc host_answer) => {
        interface_version!(@host_alloc {
            fn new_answer(&self, decision: abi::Decision) -> abi::AnswerBox {
                Built::empty(decision)
            }
        });
        interface_version!(@built);
    };
    (@host_alloc { $($methods:tt)* }) => {
        /// Whether the answer's parts are moved out (see `release`).
        const MOVED: bool = true;

        /// Hands the library the host's allocator (once, right after loading).
        pub(in crate::loader) fn attach(module: ModRef) {
            (module.attach_host())(host_alloc());
        }

        /// The host's allocator as this version's handle.
        pub(in crate::loader) fn host_alloc() -> abi::HostAllocHandle {
            abi::HostAlloc_TO::from_value(Alloc, TD_Opaque)
        }

        /// The host's allocator: what it makes carries the host's vtables.
        #[derive(Clone)]
        struct Alloc;

        impl abi::HostAlloc for Alloc {
            fn answer(&self, decision: abi::Decision) -> abi::AuthResponse {
                abi::AuthResponse {
                    decision,
                    ..abi::AuthResponse::default()
                }
            }

            fn string(&self, text: RStr<'_>) -> RString {
                super::release::host_string(text.as_str())
            }

            $($methods)*
        }

        /// `outcome` for tests (of 1.4's answers).
        #[cfg(test)]
        #[allow(dead_code)]
        pub(in crate::loader) fn outcome_of(r: abi::AuthResponse) -> StepOutcome {
            outcome(r)
        }
    };

    // The host's own kind of answer (1.5): each effect the plugin adds is put
    // in the chain's terms at once, so the answer needs no conversion at the end.
    (@built) => {
        use abi_stable::std_types::RBox;

        /// An answer the host builds as the plugin adds to it: a `StepOutcome`.
        #[derive(Default)]
        struct Built(StepOutcome);

        thread_local! {
            /// The box of the last answer taken on this thread (emptied), for
            /// the next one made here: an answer made and taken on one thread
            /// allocates nothing of its own.
            static SPARE: std::cell::Cell<Option<RBox<Built>>> = const { std::cell::Cell::new(None) };
        }

        impl Built {
            /// An empty answer of `decision`, as handed to the plugin.
            fn empty(decision: abi::Decision) -> abi::AnswerBox {
                let mut answer = SPARE.try_with(std::cell::Cell::take).ok().flatten().unwrap_or_default();
                answer.0.allow = decision == abi::Decision::Allow;
                abi::Answer_TO::from_ptr(answer, abi_stable::sabi_trait::TD_CanDowncast)
            }

            /// The outcome of `answer`, its box kept for the next answer.
            fn take(mut answer: RBox<Built>) -> StepOutcome {
                let outcome = std::mem::take(&mut answer.0);
                let _ = SPARE.try_with(|spare| spare.set(Some(answer)));
                outcome
            }
        }

        /// Adds `item` to `list`, making room for a few at once on the first.
        fn add<T>(list: &mut Vec<T>, item: T) {
            if list.capacity() == 0 {
                *list = Vec::with_capacity(4);
            }
            list.push(item);
        }

        fn op(name: RStr<'_>, value: RStr<'_>, at: abi::AppendAction) -> HeaderOp {
            HeaderOp { name: name.as_str().into(), value: value.as_str().into(), action: action(at) }
        }

        fn pair(key: RStr<'_>, value: RStr<'_>) -> (String, String) {
            (key.as_str().into(), value.as_str().into())
        }

        impl abi::Answer for Built {
            fn set_status(&mut self, status: u16) {
                self.0.status = status;
            }

            fn set_body(&mut self, body: RStr<'_>) {
                self.0.body = body.as_str().into();
            }

            fn request_header(&mut self, name: RStr<'_>, value: RStr<'_>, at: abi::AppendAction) {
                add(&mut self.0.request_headers, op(name, value, at));
            }

            fn remove_request_header(&mut self, name: RStr<'_>) {
                add(&mut self.0.remove_request_headers, name.as_str().into());
            }

            fn response_header(&mut self, name: RStr<'_>, value: RStr<'_>, at: abi::AppendAction) {
                add(&mut self.0.response_headers, op(name, value, at));
            }

            fn set_user(&mut self, id: RStr<'_>) {
                self.0.user_id = Some(id.as_str().to_owned()).filter(|u| !u.is_empty());
            }

            fn metadata(&mut self, key: RStr<'_>, value: RStr<'_>) {
                add(&mut self.0.dynamic_metadata, pair(key, value));
            }

            fn set_state(&mut self, key: RStr<'_>, value: RStr<'_>) {
                add(&mut self.0.state_set, pair(key, value));
            }

            fn remove_state(&mut self, key: RStr<'_>) {
                add(&mut self.0.state_remove, key.as_str().into());
            }

            fn to_response(&self) -> abi::AuthResponse {
                response(&self.0)
            }

            fn into_response(self) -> abi::AuthResponse {
                response(&self.0)
            }
        }

        /// `o` as the ABI's answer (for a plugin reading its own answer).
        fn response(o: &StepOutcome) -> abi::AuthResponse {
            let text = |s: &str| RString::from(s);
            let ops = |ops: &[HeaderOp]| -> RVec<abi::HeaderMutation> {
                ops.iter()
                    .map(|h| abi::HeaderMutation {
                        name: text(&h.name),
                        value: text(&h.value),
                        action: abi_action(h.action),
                    })
                    .collect()
            };
            let pairs = |entries: &[(String, String)]| -> RVec<abi::KeyValue> {
                entries.iter().map(|(k, v)| abi::KeyValue { key: text(k), value: text(v) }).collect()
            };
            let strings = |items: &[String]| -> RVec<RString> { items.iter().map(|s| text(s)).collect() };
            abi::AuthResponse {
                decision: if o.allow { abi::Decision::Allow } else { abi::Decision::Deny },
                status: o.status,
                body: text(&o.body),
                request_headers: ops(&o.request_headers),
                remove_request_headers: strings(&o.remove_request_headers),
                response_headers: ops(&o.response_headers),
                user_id: text(o.user_id.as_deref().unwrap_or("")),
                dynamic_metadata: pairs(&o.dynamic_metadata),
                state_set: pairs(&o.state_set),
                state_remove: strings(&o.state_remove),
            }
        }

        fn abi_action(action: AppendAction) -> abi::AppendAction {
            match action {
                AppendAction::AppendIfExistsOrAdd => abi::AppendAction::AppendIfExistsOrAdd,
                AppendAction::AddIfAbsent => abi::AppendAction::AddIfAbsent,
                AppendAction::OverwriteIfExistsOrAdd => abi::AppendAction::OverwriteIfExistsOrAdd,
                AppendAction::OverwriteIfExists => abi::AppendAction::OverwriteIfExists,
            }
        }

        /// A 1.5 answer as the chain's: the host's own taken as it is, any
        /// other kind (the plugin's `AuthResponse`) converted as in 1.4.
        fn built(
            answer: RResult<abi::AnswerBox, abi::PluginError>,
        ) -> Result<StepOutcome, StepError> {
            match answer {
                RResult::ROk(answer) => Ok(match answer.obj.downcast_into::<Built>() {
                    Ok(built) => Built::take(built),
                    Err(other) => {
                        outcome(abi::Answer_TO::from_sabi(other.into_inner()).into_response())
                    }
                }),
                RResult::RErr(e) => Err(error(e)),
            }
        }

        /// Whether this thread holds a spare answer box (for tests).
        #[cfg(test)]
        pub(in crate::loader) fn has_spare_answer() -> bool {
            SPARE.with(|spare| {
                let answer = spare.take();
                let has = answer.is_some();
                spare.set(answer);
                has
            })
        }

        /// `built` for tests: the outcome of a plugin that answered `answer`.
        #[cfg(test)]
        pub(in crate::loader) fn outcome_of_answer(answer: abi::AnswerBox) -> StepOutcome {
            match built(RResult::ROk(answer)) {
                Ok(outcome) => outcome,
                Err(_) => unreachable!("an answer is never an error"),
            }
        }
    };

    (@info no_build_info, $m:ident) => {{
        let _ = $m;
        None
    }};
    (@info build_info, $m:ident) => {
        Some(($m.build_info())().into())
    };

    // Before 1.3 the factory takes the name and config only.
    (@factory owned, $m:ident, $name:ident, $step:ident, $config:ident) => {{
        let _ = $step;
        ($m.new_service())(RStr::from($name), RStr::from($config))
    }};
    (@factory borrowed, $m:ident, $name:ident, $step:ident, $config:ident) => {
        interface_version!(@factory owned, $m, $name, $step, $config)
    };
    // From 1.3 it also takes the instance's log sink, named after the step.
    (@factory context, $m:ident, $name:ident, $step:ident, $config:ident) => {{
        let sink = super::super::plugin_log::PluginLog::new($name, $step);
        let sink = abi::LogSink_TO::from_value(Log(Arc::new(sink)), TD_Opaque);
        ($m.new_service_logged())(RStr::from($name), RStr::from($config), sink)
    }};

    (@factory answer, $m:ident, $name:ident, $step:ident, $config:ident) => {
        interface_version!(@factory context, $m, $name, $step, $config)
    };

    // `authorize` takes the request by value: convert it, state included, per step.
    (@step owned) => {
        impl Step for Service {
            fn authorize<'a>(
                &'a self,
                input: StepInput<'a>,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                let owned = request(input.request(), input.state());
                let future = self.0.authorize(owned);
                answer(future)
            }
        }
    };

    // `authorize` borrows the request: convert it once per chain run (the
    // run's cache holds one per interface type), refresh only `state`, lend it.
    (@step borrowed) => {
        impl Step for Service {
            fn authorize<'a>(
                &'a self,
                input: StepInput<'a>,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                let (original, current, cache) = input.into_parts();
                // SAFETY: `original` is the request of the cache the `Lent`
                // lives in (`StepInput::into_parts`).
                let lent = unsafe { cache.get_or_insert_with(Lent::default).lend(original, current) };
                let future = self.0.authorize(lent);
                answer(future)
            }
        }
    };

    // As `borrowed`, through `authorize_in` with the call's context: its budget,
    // a cancellation fired when this future ends (answered, or dropped because
    // the budget ran out or the client left), and the log sink's adapter.
    (@step context) => {
        interface_version!(@with_context authorize_in, result);
    };
    // As `context`, through `authorize_answer`: the answer is one the host
    // built (`Built`), already in the chain's terms.
    (@step answer) => {
        interface_version!(@with_context authorize_answer, built);
    };
    // The call with a context, through `$method`, its answer read by `$finish`.
    (@with_context $method:ident, $finish:ident) => {
        /// What the calls of one chain run share, in the run's cache: the
        /// lent request, the run's cancellations, and one call context lent
        /// to each call in turn (its budget and metadata set anew per call;
        /// its signal is the run's current call's, see `RunCancel::current`),
        /// so a call makes no signal of its own unless the plugin clones it.
        #[derive(Default)]
        struct Run {
            lent: Lent,
            cancel: super::RunCancel,
            /// Its metadata strings are lent (see `lend`): never dropped.
            context: Option<std::mem::ManuallyDrop<abi::CallContext>>,
        }

        /// The run's context for the call about to start, lent from `request`.
        fn call_context<'a>(
            slot: &'a mut Option<std::mem::ManuallyDrop<abi::CallContext>>,
            cancel: &super::RunCancel,
            request: &'a Request,
            budget_ms: u64,
        ) -> &'a abi::CallContext {
            let context = slot.get_or_insert_with(|| {
                std::mem::ManuallyDrop::new(abi::CallContext {
                    budget_ms,
                    cancel: abi::CancelSignal_TO::from_value(
                        Cancel::Current(cancel.current()),
                        TD_Opaque,
                    ),
                    metadata_context: RString::new(),
                    route_metadata: RString::new(),
                })
            });
            context.budget_ms = budget_ms;
            // SAFETY: lent from `request`, which the returned borrow cannot
            // outlive; the old strings are forgotten, and `Run`'s `drop`
            // drops only the signal.
            unsafe {
                super::lend::put(&mut context.metadata_context, &request.metadata_context);
                super::lend::put(&mut context.route_metadata, &request.route_metadata);
            }
            context
        }

        /// Reused by a later run when no plugin kept a signal of this one.
        impl crate::chain::RunSlot for Run {
            fn recycle(&mut self) -> bool {
                self.lent.recycle() && self.cancel.recycle(1 + usize::from(self.context.is_some()))
            }
        }

        impl Drop for Run {
            fn drop(&mut self) {
                if let Some(context) = self.context.take() {
                    let abi::CallContext { cancel, metadata_context, route_metadata, .. } =
                        std::mem::ManuallyDrop::into_inner(context);
                    drop(cancel);
                    // Lent: forgotten, not dropped.
                    let _ = std::mem::ManuallyDrop::new((metadata_context, route_metadata));
                }
            }
        }

        impl Step for Service {
            fn authorize<'a>(
                &'a self,
                input: StepInput<'a>,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                let budget = input.budget();
                let (original, current, cache) = input.into_parts();
                let Run { lent, cancel, context } = cache.get_or_insert_with(Run::default);
                // SAFETY: `original` is the request of the cache the `Run`
                // lives in (`StepInput::into_parts`).
                let lent = unsafe { lent.lend(original, current) };
                let context = call_context(context, cancel, original, super::budget_ms(budget));
                // Moved into the future before its first poll: fires also for
                // a future dropped unpolled.
                let fire = cancel.next_call();
                Box::pin(async move {
                    let _fire = fire;
                    $finish(self.0.$method(lent, context).await)
                })
            }
        }

        /// The call's cancellation as this version's signal: the run's
        /// current call (the lent context's), or one call (a clone's).
        enum Cancel {
            Current(super::CurrentCall),
            Call(super::CallCancel),
        }

        impl Cancel {
            fn call(&self) -> super::CallCancel {
                match self {
                    Cancel::Current(current) => current.call(),
                    Cancel::Call(call) => call.clone(),
                }
            }
        }

        impl Clone for Cancel {
            /// A clone stays with the call it was made in.
            fn clone(&self) -> Self {
                Cancel::Call(self.call())
            }
        }

        impl abi::CancelSignal for Cancel {
            fn is_cancelled(&self) -> bool {
                match self {
                    Cancel::Current(current) => current.is_cancelled(),
                    Cancel::Call(call) => call.is_cancelled(),
                }
            }

            fn cancelled(&self) -> FfiFuture<()> {
                self.call().cancelled().into_ffi()
            }
        }

        /// The host's plugin log as this version's sink.
        #[derive(Clone)]
        struct Log(Arc<super::super::plugin_log::PluginLog>);

        fn level(level: abi::LogLevel) -> tracing::Level {
            match level {
                abi::LogLevel::Error => tracing::Level::ERROR,
                abi::LogLevel::Warn => tracing::Level::WARN,
                abi::LogLevel::Info => tracing::Level::INFO,
                abi::LogLevel::Debug => tracing::Level::DEBUG,
                abi::LogLevel::Trace => tracing::Level::TRACE,
            }
        }

        impl abi::LogSink for Log {
            fn enabled(&self, at: abi::LogLevel) -> bool {
                self.0.enabled(level(at))
            }

            fn log(&self, at: abi::LogLevel, target: RStr<'_>, request_id: RStr<'_>, message: RStr<'_>) {
                self.0.write(level(at), target.as_str(), request_id.as_str(), message.as_str());
            }
        }
    };
}

/// Writes, from one list of `module => crate (major, minor), call mode, build
/// info`, the adapter modules, [`SUPPORTED_INTERFACES`] and [`Module`]. The
/// last entry must be the current interface (`api`); the others are frozen
/// copies (`plugin-api/frozen/<module>`, dependency `api_<module>`).
macro_rules! interfaces {
    ($($module:ident => $api:ident ($major:literal, $minor:literal), $call:ident, $info:ident, $alloc:ident;)+) => {
        $(interface_version!($module, $api, $call, $info, $alloc);)+

        /// Interface versions this host loads, oldest first, as `major.minor`.
        pub const SUPPORTED_INTERFACES: &[&str] = &[$(concat!($major, ".", $minor)),+];

        /// Each supported version as (module name, major, minor), oldest first.
        #[cfg(test)]
        pub(super) const VERSIONS: &[(&str, u32, u32)] = &[$((stringify!($module), $major, $minor)),+];

        /// Each supported version's root-module layout (what abi_stable checks).
        #[cfg(test)]
        pub(super) fn layouts() -> Vec<(&'static str, &'static abi_stable::type_layout::TypeLayout)> {
            use abi_stable::StableAbi;
            vec![$((stringify!($module), <$module::ModRef as StableAbi>::LAYOUT)),+]
        }

        /// A root module, through the interface copy it was built against.
        #[derive(Clone, Copy)]
        #[allow(non_camel_case_types)]
        pub(super) enum Module {
            $(
                #[doc = concat!("Interface ", $major, ".", $minor, ".")]
                $module($module::ModRef),
            )+
        }

        impl Module {
            /// Checks the library's layout against the copy for `major.minor`
            /// and initialises its root module (from 1.4 the library then gets
            /// the host's allocator); None for an unsupported version.
            pub(super) fn init(
                header: &'static LibHeader,
                major: u32,
                minor: u32,
            ) -> Option<Result<Self, LibraryError>> {
                match (major, minor) {
                    $(($major, $minor) => Some(header.init_root_module::<$module::ModRef>().map(|m| {
                        $module::attach(m);
                        Module::$module(m)
                    })),)+
                    _ => None,
                }
            }

            /// The plugin names the library exports.
            pub(super) fn plugin_names(self) -> Vec<String> {
                match self {
                    $(Module::$module(m) => $module::plugin_names(m),)+
                }
            }

            /// Who built the library (interface 1.1 and later).
            pub(super) fn build_info(self) -> Option<String> {
                match self {
                    $(Module::$module(m) => $module::build_info(m),)+
                }
            }

            /// Builds plugin `name` for step `step` from its config (JSON text).
            pub(super) fn new_instance(
                self,
                name: &str,
                step: &str,
                config: &str,
            ) -> Result<std::sync::Arc<dyn Instance>, FactoryError> {
                match self {
                    $(Module::$module(m) => $module::new_instance(m, name, step, config),)+
                }
            }
        }
    };
}

/// The current (newest) interface, `major.minor`: the last supported one.
pub(super) fn current() -> (u32, u32) {
    let last = SUPPORTED_INTERFACES[SUPPORTED_INTERFACES.len() - 1];
    let (major, minor) = last.split_once('.').unwrap_or((last, "0"));
    (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
}

/// What to tell the author of a plugin built against `major.minor`, which this
/// host does not load.
pub(super) fn advice(major: u32, minor: u32) -> &'static str {
    static TEXTS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (cur_major, cur_minor) = current();
    let (newer, rebuild) = TEXTS.get_or_init(|| {
        (
            format!(
                "the plugin is newer than this host: upgrade the host, or rebuild the plugin \
                 against interface {cur_major}.{cur_minor}"
            ),
            format!("rebuild the plugin against gatehouse-plugin-api {cur_major}.{cur_minor}"),
        )
    });
    if major == cur_major && minor > cur_minor {
        newer
    } else {
        rebuild
    }
}

interfaces! {
    v1_0 => api_v1_0 (1, 0), owned, no_build_info, no_host_alloc;
    v1_1 => api_v1_1 (1, 1), owned, build_info, no_host_alloc;
    v1_2 => api_v1_2 (1, 2), borrowed, build_info, no_host_alloc;
    v1_3 => api_v1_3 (1, 3), context, build_info, no_host_alloc;
    v1_4 => api_v1_4 (1, 4), context, build_info, host_alloc;
    v1_5 => api (1, 5), answer, build_info, host_answer;
}

#[cfg(test)]
mod cancel_tests {
    use std::time::Duration;

    use super::RunCancel;

    #[tokio::test]
    async fn a_call_is_cancelled_when_it_ends_and_the_runs_next_call_is_not() {
        let mut run = RunCancel::default();
        let fire = run.next_call();
        let first = fire.call();
        let waiter = tokio::spawn(first.clone().cancelled());
        tokio::task::yield_now().await; // it waits before the call ends
        assert!(!first.is_cancelled());
        // The step timed out: its future (and guard) is dropped, the next step starts.
        drop(fire);
        let fire = run.next_call();
        let second = fire.call();
        assert!(first.is_cancelled() && !second.is_cancelled());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the first call's waiter wakes")
            .expect("the waiter ran");
        let later = tokio::spawn(second.clone().cancelled());
        tokio::task::yield_now().await;
        assert!(!later.is_finished(), "the second call has not ended");
        drop(fire);
        tokio::time::timeout(Duration::from_secs(5), later)
            .await
            .expect("the second call's waiter wakes")
            .expect("the waiter ran");
    }

    #[test]
    fn the_runs_current_signal_follows_its_calls_and_a_clone_stays_with_its_own() {
        let mut run = RunCancel::default();
        let current = run.current();
        assert!(current.is_cancelled(), "no call started yet");
        let fire = run.next_call();
        assert!(!current.is_cancelled(), "the first call runs");
        let kept = current.call();
        drop(fire);
        assert!(
            current.is_cancelled() && kept.is_cancelled(),
            "the first call ended"
        );
        let fire = run.next_call();
        assert!(!current.is_cancelled(), "the second call runs");
        assert!(
            kept.is_cancelled(),
            "the first call's clone stays cancelled"
        );
        let second = current.call();
        assert!(!second.is_cancelled());
        drop(fire);
        assert!(second.is_cancelled() && current.is_cancelled());
    }

    #[test]
    fn a_run_is_recycled_only_when_no_clone_of_its_signals_is_kept() {
        let mut run = RunCancel::default();
        let current = run.current();
        drop(run.next_call());
        let kept = current.call();
        assert!(!run.recycle(2), "a plugin keeps a clone: not reused");
        assert!(kept.is_cancelled(), "and its call stays ended");
        drop(kept);
        assert!(run.recycle(2), "only the run (and its context) hold it");
        let fire = run.next_call();
        let again = current.call();
        assert!(!again.is_cancelled(), "the next run's first call runs");
        drop(fire);
        assert!(again.is_cancelled());
        drop((again, current));
        assert!(
            !run.recycle(2),
            "a count that is not the run's own is refused"
        );
        assert!(run.recycle(1));
    }
}

/// Interface 1.4's answers in the host's allocator: what the host's
/// `HostAlloc` makes, grown by a plugin, is taken over without a copy.
#[cfg(test)]
mod host_alloc_tests {
    use api_v1_4::{abi_stable::std_types::RStr, AppendAction, Decision, HeaderMutation, KeyValue};

    use super::{release, v1_4};

    #[test]
    fn a_runs_request_is_lent_once_and_its_state_anew_for_every_call() {
        let request = crate::model::Request {
            headers: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            ..crate::model::Request::default()
        };
        let first = crate::model::State::from([("k".to_string(), "1".to_string())]);
        let second = crate::model::State::from([
            ("k".to_string(), "2".to_string()),
            ("z".to_string(), "3".to_string()),
        ]);
        let calls = super::v1_4::lent_twice(&request, [&first, &second]);
        let names: Vec<_> = request.headers.iter().map(|(n, _)| n.as_ptr()).collect();
        assert_eq!(calls[0].0, names, "the host's own bytes, not copies");
        assert_eq!(calls[1].0, names, "still lent on the second call");
        let pairs = |s: &crate::model::State| s.clone().into_iter().collect::<Vec<_>>();
        assert_eq!(calls[0].1, pairs(&first));
        assert_eq!(
            calls[1].1,
            pairs(&second),
            "the state as the second call sees it"
        );
    }

    #[test]
    fn a_recycled_lent_request_has_the_next_runs_body_or_none() {
        let with = crate::model::Request {
            body: Some(b"first".to_vec()),
            ..crate::model::Request::default()
        };
        let without = crate::model::Request::default();
        let [first, second] = v1_4::bodies_of_two_runs(&with, &without);
        assert_eq!((first.as_deref(), second), (Some(&b"first"[..]), None));
        let [first, second] = v1_4::bodies_of_two_runs(&without, &with);
        assert_eq!((first, second.as_deref()), (None, Some(&b"first"[..])));
    }

    #[test]
    fn a_string_made_by_the_host_and_grown_by_a_plugin_is_moved_out_without_a_copy() {
        let host = v1_4::host_alloc();
        let mut text = host.string(RStr::from("Bearer "));
        // As a plugin would: grow it past its first buffer (through the vtable).
        for _ in 0..20 {
            text.push_str("abcdefgh");
        }
        let (buffer, expected) = (text.as_ptr(), text.to_string());
        let moved = release::string::<true>(text);
        assert_eq!(moved, expected);
        assert_eq!(moved.as_ptr(), buffer, "moved: the same buffer");

        let copied = release::string::<false>(host.string(RStr::from("x")));
        assert_eq!(copied, "x");
        let empty = host.string(RStr::from(""));
        assert_eq!(empty.capacity(), 0, "an empty string allocates nothing");
    }

    #[test]
    fn a_vector_made_by_the_host_and_grown_by_a_plugin_hands_over_its_strings_without_a_copy() {
        let host = v1_4::host_alloc();
        let mut answer = host.answer(Decision::Deny);
        assert_eq!(answer.decision, Decision::Deny);
        assert_eq!(
            answer.request_headers.capacity(),
            0,
            "nothing allocated yet"
        );
        // As a plugin would: push past the first buffer (grown through the vtable).
        for i in 0..9 {
            answer
                .state_remove
                .push(host.string(RStr::from(format!("key-{i}").as_str())));
        }
        assert!(answer.state_remove.capacity() >= 9);
        let strings: Vec<*const u8> = answer.state_remove.iter().map(|s| s.as_ptr()).collect();
        let moved =
            release::vec::<true, _, _>(answer.state_remove, release::string::<true>, release::copy);
        assert_eq!(
            moved,
            (0..9).map(|i| format!("key-{i}")).collect::<Vec<_>>()
        );
        assert_eq!(
            moved.iter().map(|s| s.as_ptr()).collect::<Vec<_>>(),
            strings
        );
    }

    #[test]
    fn a_host_made_answer_comes_out_of_outcome_with_the_same_buffers_and_content() {
        let host = v1_4::host_alloc();
        let s = |t: &str| host.string(RStr::from(t));
        let mut answer = host.answer(Decision::Allow);
        for (name, value) in [("x-user", "alice"), ("x-team", "platform"), ("x-a", "1")] {
            answer.request_headers.push(HeaderMutation {
                name: s(name),
                value: s(value),
                action: AppendAction::AppendIfExistsOrAdd,
            });
        }
        answer.response_headers.push(HeaderMutation {
            name: s("x-resp"),
            value: s("yes"),
            action: AppendAction::OverwriteIfExistsOrAdd,
        });
        answer.state_set.push(KeyValue {
            key: s("tier"),
            value: s("gold"),
        });
        answer.dynamic_metadata.push(KeyValue {
            key: s("m"),
            value: s("v"),
        });
        answer.remove_request_headers.push(s("cookie"));
        answer.state_remove.push(s("old"));
        answer.user_id = s("alice");
        answer.body = s("not used on allow");
        let header_value = answer.request_headers[1].value.as_ptr();
        let state_value = answer.state_set[0].value.as_ptr();
        let user = answer.user_id.as_ptr();
        let removed = answer.remove_request_headers[0].as_ptr();
        let body = answer.body.as_ptr();

        let outcome = v1_4::outcome_of(answer);
        assert!(outcome.allow);
        assert_eq!(
            outcome
                .request_headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_str(), h.action))
                .collect::<Vec<_>>(),
            [
                (
                    "x-user",
                    "alice",
                    crate::model::AppendAction::AppendIfExistsOrAdd
                ),
                (
                    "x-team",
                    "platform",
                    crate::model::AppendAction::AppendIfExistsOrAdd
                ),
                ("x-a", "1", crate::model::AppendAction::AppendIfExistsOrAdd),
            ]
        );
        assert_eq!(outcome.response_headers[0].value, "yes");
        assert_eq!(
            outcome.response_headers[0].action,
            crate::model::AppendAction::OverwriteIfExistsOrAdd
        );
        assert_eq!(
            outcome.state_set,
            [("tier".to_string(), "gold".to_string())]
        );
        assert_eq!(
            outcome.dynamic_metadata,
            [("m".to_string(), "v".to_string())]
        );
        assert_eq!(outcome.remove_request_headers, ["cookie"]);
        assert_eq!(outcome.state_remove, ["old"]);
        assert_eq!(outcome.user_id.as_deref(), Some("alice"));
        assert_eq!(outcome.body, "not used on allow");
        // Zero-copy: every string is the buffer the host's allocator made.
        assert_eq!(outcome.request_headers[1].value.as_ptr(), header_value);
        assert_eq!(outcome.state_set[0].1.as_ptr(), state_value);
        assert_eq!(outcome.user_id.as_deref().map(str::as_ptr), Some(user));
        assert_eq!(outcome.remove_request_headers[0].as_ptr(), removed);
        assert_eq!(outcome.body.as_ptr(), body);
    }

    #[test]
    fn an_empty_host_answer_becomes_an_empty_outcome() {
        let outcome = v1_4::outcome_of(v1_4::host_alloc().answer(Decision::Deny));
        assert!(!outcome.allow);
        assert_eq!((outcome.status, outcome.body.as_str()), (0, ""));
        assert!(outcome.request_headers.is_empty() && outcome.state_set.is_empty());
        assert_eq!(outcome.user_id, None);
    }
}

/// Interface 1.5's answers built by the host: each effect a plugin adds is
/// the chain's at once, and the answer is taken as it is.
#[cfg(test)]
mod built_answer_tests {
    use api::{abi_stable::std_types::RStr, AppendAction, AuthResponse, Decision};

    use super::v1_5;
    use crate::model::{AppendAction as Action, HeaderOp, StepOutcome};

    /// The same effects, added to `answer` as a plugin adds them.
    fn fill(mut answer: api::AnswerBox) -> api::AnswerBox {
        let s = RStr::from;
        answer.request_header(s("x-user"), s("alice"), AppendAction::AppendIfExistsOrAdd);
        answer.request_header(s("x-team"), s("platform"), AppendAction::AddIfAbsent);
        answer.remove_request_header(s("cookie"));
        answer.response_header(s("x-resp"), s("yes"), AppendAction::OverwriteIfExistsOrAdd);
        answer.set_user(s("alice"));
        answer.metadata(s("m"), s("v"));
        answer.set_state(s("tier"), s("gold"));
        answer.remove_state(s("old"));
        answer
    }

    fn expected() -> StepOutcome {
        let op = |name: &str, value: &str, action| HeaderOp {
            name: name.into(),
            value: value.into(),
            action,
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        StepOutcome {
            allow: true,
            request_headers: vec![
                op("x-user", "alice", Action::AppendIfExistsOrAdd),
                op("x-team", "platform", Action::AddIfAbsent),
            ],
            remove_request_headers: vec!["cookie".into()],
            response_headers: vec![op("x-resp", "yes", Action::OverwriteIfExistsOrAdd)],
            user_id: Some("alice".into()),
            dynamic_metadata: vec![pair("m", "v")],
            state_set: vec![pair("tier", "gold")],
            state_remove: vec!["old".into()],
            ..StepOutcome::default()
        }
    }

    #[test]
    fn the_hosts_answer_is_taken_as_the_chains_outcome() {
        let answer = fill(v1_5::host_alloc().new_answer(Decision::Allow));
        assert_eq!(v1_5::outcome_of_answer(answer), expected());
    }

    #[test]
    fn an_answers_box_is_reused_on_its_thread_and_starts_empty() {
        std::thread::spawn(|| {
            let first = fill(v1_5::host_alloc().new_answer(Decision::Allow));
            assert!(!v1_5::has_spare_answer(), "the first answer makes its box");
            assert_eq!(v1_5::outcome_of_answer(first), expected());
            assert!(v1_5::has_spare_answer(), "kept when taken");
            let second = v1_5::host_alloc().new_answer(Decision::Deny);
            assert!(!v1_5::has_spare_answer(), "the next answer has it");
            assert_eq!(
                v1_5::outcome_of_answer(second),
                StepOutcome::default(),
                "nothing of the first"
            );
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_plugins_own_answer_is_converted_to_the_same_outcome() {
        let own = fill(AuthResponse::answer(Decision::Allow));
        assert_eq!(v1_5::outcome_of_answer(own), expected());
    }

    #[test]
    fn a_plugin_reads_back_what_it_added_to_the_hosts_answer() {
        let mut answer = v1_5::host_alloc().new_answer(Decision::Deny);
        answer.set_status(401);
        answer.set_body(RStr::from("no"));
        answer.response_header(
            RStr::from("www-authenticate"),
            RStr::from("Basic"),
            AppendAction::AppendIfExistsOrAdd,
        );
        let read = answer.to_response();
        assert_eq!(
            (read.decision, read.status, read.body.as_str()),
            (Decision::Deny, 401, "no")
        );
        assert_eq!(read.response_headers[0].value, "Basic");
        let outcome = v1_5::outcome_of_answer(answer);
        assert!(!outcome.allow);
        assert_eq!((outcome.status, outcome.body.as_str()), (401, "no"));
        assert_eq!(outcome.user_id, None, "an empty user is none");
        let back = fill(v1_5::host_alloc().new_answer(Decision::Allow)).into_response();
        assert_eq!(v1_5::outcome_of_answer(back.into_answer()), expected());
    }
}
