//! Frontends: each translates one proxy protocol into the host's [`Request`]
//! model and a [`Decision`] back. The chain never knows which proxy asked.
//!
//! [`Request`]: crate::model::Request
//! [`Decision`]: crate::model::Decision

pub mod envoy;
