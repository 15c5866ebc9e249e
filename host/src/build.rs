//! What this binary was built as: its version and, for a profile-guided build
//! (`scripts/build-host.sh --pgo`), which training profile it was optimised
//! with. Shown by `gatehouse --version` and the `gatehouse_build_info` metric,
//! so an operator can tell which build a running host is.

/// The package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first 12 hex digits of the SHA-256 of the merged training profile
/// (`GATEHOUSE_PGO_PROFILE` at compile time, set by `scripts/build-host.sh
/// --pgo`); `None` for a build without one.
pub const PGO_PROFILE: Option<&str> = option_env!("GATEHOUSE_PGO_PROFILE");

/// `--version`'s text: the version, and the profile of a profile-guided build
/// (composed by build.rs, as `concat!` cannot take an optional variable).
pub const LONG_VERSION: &str = env!("GATEHOUSE_LONG_VERSION");
