//! The one place where ABI types meet host types.
//!
//! Every supported interface version is a frozen copy of the interface crate
//! with the same type *names* but distinct types. `interface_version!` writes,
//! per copy, the conversions (host ⇄ ABI) and the adapters (ABI service → host
//! [`Step`], host cancellation → ABI stop signal) from one template, so a new
//! minor version is one line here plus its frozen crate. Versions up to 1.1 take
//! the request by value (converted per step); from 1.2 on `authorize` borrows it
//! (converted once per chain run, see the macro's `borrowed` mode).

use tokio_util::sync::CancellationToken;

use crate::chain::Step;

/// A configured plugin instance as the host uses it.
pub trait Instance: Step {
    /// Starts the instance; background work ends when `stop` is cancelled.
    fn start(&self, stop: CancellationToken) -> Result<(), String>;
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
/// - `owned` (1.0, 1.1): by value, so each step gets its own conversion of the
///   request and the state;
/// - `borrowed` (1.2 and later): by reference, so the request is converted once
///   per chain run, kept in the run's [`RequestCache`](crate::chain::RequestCache)
///   and lent to every step of this version; only its `state` is refreshed per step.
macro_rules! interface_version {
    ($module:ident, $api:ident, $call:ident) => {
        pub(super) mod $module {
            use std::sync::Arc;

            use abi_stable::{
                sabi_trait::TD_Opaque,
                std_types::{RResult, RStr, RString, RVec},
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

            /// Calls the library's factory.
            pub(in crate::loader) fn new_instance(
                module: ModRef,
                name: &str,
                config: &str,
            ) -> Result<Arc<dyn Instance>, FactoryError> {
                match (module.new_service())(RStr::from(name), RStr::from(config)) {
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

            /// The chain's state as this version's key/value list.
            fn state(state: &State) -> RVec<abi::KeyValue> {
                kv(state)
            }

            fn peer(p: &crate::model::Peer) -> abi::Peer {
                abi::Peer {
                    address: p.address.as_str().into(),
                    port: p.port,
                    principal: p.principal.as_str().into(),
                    certificate: p.certificate.as_str().into(),
                }
            }

            /// The request in this version's types, with an empty `state` (the
            /// caller fills it in: it changes from step to step).
            fn request(r: &Request) -> abi::AuthRequest {
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
                    state: RVec::new(),
                }
            }

            fn header_ops(ops: RVec<abi::HeaderMutation>) -> Vec<HeaderOp> {
                ops.into_iter()
                    .map(|m| HeaderOp {
                        name: m.name.into(),
                        value: m.value.into(),
                        action: match m.action {
                            abi::AppendAction::AppendIfExistsOrAdd => {
                                AppendAction::AppendIfExistsOrAdd
                            }
                            abi::AppendAction::AddIfAbsent => AppendAction::AddIfAbsent,
                            abi::AppendAction::OverwriteIfExistsOrAdd => {
                                AppendAction::OverwriteIfExistsOrAdd
                            }
                            abi::AppendAction::OverwriteIfExists => AppendAction::OverwriteIfExists,
                        },
                    })
                    .collect()
            }

            fn pairs(entries: RVec<abi::KeyValue>) -> Vec<(String, String)> {
                entries
                    .into_iter()
                    .map(|e| (e.key.into(), e.value.into()))
                    .collect()
            }

            fn strings(items: RVec<RString>) -> Vec<String> {
                items.into_iter().map(String::from).collect()
            }

            fn outcome(r: abi::AuthResponse) -> StepOutcome {
                StepOutcome {
                    allow: r.decision == abi::Decision::Allow,
                    status: r.status,
                    body: r.body.into(),
                    request_headers: header_ops(r.request_headers),
                    remove_request_headers: strings(r.remove_request_headers),
                    response_headers: header_ops(r.response_headers),
                    user_id: Some(String::from(r.user_id)).filter(|u| !u.is_empty()),
                    dynamic_metadata: pairs(r.dynamic_metadata),
                    state_set: pairs(r.state_set),
                    state_remove: strings(r.state_remove),
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
            fn answer<'a>(
                future: impl std::future::Future<
                        Output = RResult<abi::AuthResponse, abi::PluginError>,
                    > + Send
                    + 'a,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                Box::pin(async move {
                    match future.await {
                        RResult::ROk(response) => Ok(outcome(response)),
                        RResult::RErr(e) => Err(error(e)),
                    }
                })
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

    // `authorize` takes the request by value: convert it, state included, per step.
    (@step owned) => {
        impl Step for Service {
            fn authorize<'a>(
                &'a self,
                input: StepInput<'a>,
            ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
                let owned = abi::AuthRequest {
                    state: state(input.state),
                    ..request(input.request)
                };
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
                let StepInput {
                    request: original,
                    state: current,
                    cache,
                } = input;
                let converted = cache.get_or_insert_with(|| request(original));
                // The state changes from step to step; the rest is the same for the run.
                converted.state = state(current);
                let converted: &'a abi::AuthRequest = converted;
                let future = self.0.authorize(converted);
                answer(future)
            }
        }
    };
}

interface_version!(v1_0, api_v1_0, owned);
interface_version!(v1_1, api_v1_1, owned);
interface_version!(v1_2, api, borrowed);
