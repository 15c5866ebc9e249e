//! JWT verification against a JWKS (feature `jwt`): the key handling of the
//! bundled `Jwt` plugin, for plugins that verify tokens themselves (an OIDC
//! plugin, say).
//!
//! - [`KeySet`] parses a JWKS into keys tied to the algorithms their type allows
//!   and selects the [candidates](KeySet::candidates) for a token's `kid`/`alg`;
//! - [`Fetcher`] GETs a JWKS URL (bounded time and size);
//! - [`RemoteJwks`] keeps a fetched set fresh: [`RemoteJwks::run`] refreshes it
//!   in the background until the service stops, [`RemoteJwks::refetch`] fetches
//!   early (rate-limited) for an unknown `kid`, and a failed fetch keeps the
//!   last good keys;
//! - [`Verifier`] checks one token's algorithm, signature and claims.
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use gatehouse_plugin_sdk::{jwt::{Fetcher, RemoteJwks, Schedule}, runtime, Stop};
//!
//! fn start(stop: Stop) -> Result<Arc<RemoteJwks>, String> {
//!     let fetcher = Fetcher::new("https://idp.example/jwks.json", Duration::from_secs(2))?;
//!     let schedule = Schedule {
//!         refresh_every: Duration::from_secs(300),
//!         cooldown: Duration::from_secs(30),
//!         refetch_wait: Duration::from_millis(500),
//!     };
//!     let jwks = Arc::new(RemoteJwks::new(fetcher, schedule, None));
//!     runtime::spawn(Arc::clone(&jwks).run(async move { stop.stopped().await }));
//!     Ok(jwks)
//! }
//! ```

mod fetch;
mod keys;
mod remote;
mod verify;

/// Re-exported: [`Algorithm`](jsonwebtoken::Algorithm) and friends.
pub use jsonwebtoken;

pub use fetch::{Fetcher, MAX_JWKS_BYTES};
pub use keys::{is_hmac, Key, KeyKind, KeySet};
pub use remote::{Refresh, RemoteJwks, Schedule, MAX_RETRY};
pub use verify::{Checks, Claims, Rejection, Verifier, MAX_KEYS_TRIED};
