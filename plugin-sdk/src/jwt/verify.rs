//! Checking one token: header and algorithm, signature against the candidate
//! keys, then `exp`, `nbf`, `iss` and `aud`.

use std::fmt;

use jsonwebtoken::{errors::ErrorKind, Algorithm, Header, Validation};
use serde_json::{Map, Value};

use super::keys::KeySet;

/// At most this many keys are tried for one token (tokens without a `kid`).
pub const MAX_KEYS_TRIED: usize = 8;

/// The verified claims of a token.
pub type Claims = Map<String, Value>;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url parts with a JSON header naming a known `alg` (this
    /// includes `alg: none`).
    Malformed,
    /// The header's `alg` is not in `algorithms`.
    Algorithm(Algorithm),
    /// No key fits the token's `kid` and `alg`.
    NoKey,
    /// No candidate key verified the signature.
    BadSignature,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` names none of the configured audiences.
    WrongAudience,
    /// A required claim (`exp`, or `iss`/`aud` when configured) is missing.
    Missing(String),
    /// Anything else (e.g. claims that are not a JSON object).
    Other(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed => write!(f, "malformed token"),
            Rejection::Algorithm(alg) => write!(f, "algorithm {alg:?} is not accepted"),
            Rejection::NoKey => write!(f, "no key for this token"),
            Rejection::BadSignature => write!(f, "bad signature"),
            Rejection::Expired => write!(f, "token expired"),
            Rejection::NotYetValid => write!(f, "token not yet valid"),
            Rejection::WrongIssuer => write!(f, "wrong issuer"),
            Rejection::WrongAudience => write!(f, "wrong audience"),
            Rejection::Missing(claim) => write!(f, "token has no `{claim}` claim"),
            Rejection::Other(why) => write!(f, "invalid token: {why}"),
        }
    }
}

/// What a [`Verifier`] checks besides the signature.
#[derive(Debug, Clone)]
pub struct Checks {
    /// Accepted `alg` values; `none` is never accepted.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed for `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// The required `iss`, if any (then `iss` must be present).
    pub issuer: Option<String>,
    /// Accepted audiences; when empty `aud` is not checked.
    pub audiences: Vec<String>,
}

/// The checks applied to every token: algorithm, signature, `exp`, `nbf`,
/// `iss`, `aud`.
pub struct Verifier {
    algorithms: Vec<Algorithm>,
    template: Validation,
}

impl Verifier {
    /// A verifier applying `config`.
    pub fn new(config: &Checks) -> Self {
        let mut template = Validation::new(Algorithm::RS256);
        template.leeway = config.leeway_seconds;
        template.validate_exp = true;
        template.validate_nbf = true;
        if let Some(issuer) = &config.issuer {
            template.set_issuer(&[issuer]);
            template.required_spec_claims.insert("iss".into());
        }
        if config.audiences.is_empty() {
            template.validate_aud = false;
        } else {
            template.set_audience(&config.audiences);
            template.required_spec_claims.insert("aud".into());
        }
        Self {
            algorithms: config.algorithms.clone(),
            template,
        }
    }

    /// The token's header, if it is well-formed and its `alg` is accepted.
    pub fn header(&self, token: &str) -> Result<Header, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(Rejection::Algorithm(header.alg));
        }
        Ok(header)
    }

    /// Verifies `token` (whose `header` came from [`Verifier::header`]) with the
    /// keys of `keys` that fit it, and checks its claims.
    pub fn verify(&self, token: &str, header: &Header, keys: &KeySet) -> Result<Claims, Rejection> {
        let candidates = keys.candidates(header.kid.as_deref(), header.alg);
        if candidates.is_empty() {
            return Err(Rejection::NoKey);
        }
        let mut validation = self.template.clone();
        validation.algorithms = vec![header.alg];
        for key in candidates.into_iter().take(MAX_KEYS_TRIED) {
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) if key_did_not_fit(e.kind()) => continue,
                Err(e) => return Err(rejection(e.kind())),
            }
        }
        Err(Rejection::BadSignature)
    }
}

/// Errors after which the next candidate key is tried.
fn key_did_not_fit(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::Crypto(_)
    )
}

fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => Rejection::Missing(claim.clone()),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => Rejection::Malformed,
        ErrorKind::Json(e) => Rejection::Other(format!("claims are not a JSON object: {e}")),
        other => Rejection::Other(format!("{other:?}")),
    }
}
