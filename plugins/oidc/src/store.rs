//! Where sessions live: sealed into the cookie (chunked when large), or sealed
//! into Redis under a random id whose sealed pointer is the cookie. Either way
//! every replica with the same keys (and Redis) accepts every session.

use std::time::Duration;

use crate::{
    cookies::{self, Attributes},
    crypto::{random_token, Sealer},
    redis::Redis,
    session::{Pointer, Session},
};

/// The session store of one step.
pub enum Store {
    /// The whole session in the cookie.
    Cookie,
    /// The session in Redis, the cookie holding its id.
    Redis {
        /// The server.
        redis: Redis,
        /// The key prefix.
        prefix: String,
    },
}

/// A session as loaded from a request.
pub struct Loaded {
    /// The session.
    pub session: Session,
    /// Its Redis id, in Redis mode.
    pub id: Option<String>,
}

/// The session cookie's name and attributes, and the keys.
pub struct Jar<'a> {
    /// The cookie name.
    pub name: &'a str,
    /// Its attributes.
    pub attrs: &'a Attributes,
    /// The sealing keys.
    pub sealer: &'a Sealer,
}

impl Store {
    /// A Redis store at `address`, each command bounded by `timeout`.
    pub fn redis(address: &str, prefix: &str, timeout: Duration) -> Self {
        Store::Redis {
            redis: Redis::new(address, timeout),
            prefix: prefix.to_string(),
        }
    }

    /// The session the request's cookie carries: None when there is none or it
    /// is not valid (tampered, foreign key, ended, revoked); Err when Redis
    /// cannot be asked.
    pub async fn load(
        &self,
        jar: &Jar<'_>,
        pairs: &[(&str, &str)],
        now: u64,
    ) -> Result<Option<Loaded>, String> {
        let Some(value) = cookies::read_chunked(pairs, jar.name) else {
            return Ok(None);
        };
        match self {
            Store::Cookie => {
                Ok(Session::open(jar.sealer, &value, now)
                    .map(|session| Loaded { session, id: None }))
            }
            Store::Redis { redis, prefix } => {
                let Some(pointer) = Pointer::open(jar.sealer, &value, now) else {
                    return Ok(None);
                };
                let Some(sealed) = redis.get(&format!("{prefix}{}", pointer.id)).await? else {
                    return Ok(None);
                };
                Ok(
                    Session::open(jar.sealer, &sealed, now).map(|session| Loaded {
                        session,
                        id: Some(pointer.id),
                    }),
                )
            }
        }
    }

    /// Saves `session` (under `id` in Redis mode, a new id when None): the
    /// `Set-Cookie` values to send, replacing the cookies named in `stale`.
    /// Saving an existing Redis session needs no cookie.
    pub async fn save(
        &self,
        jar: &Jar<'_>,
        session: &Session,
        id: Option<&str>,
        stale: &[String],
        now: u64,
    ) -> Result<Vec<String>, String> {
        let ttl = session.expires.saturating_sub(now).max(1);
        let value = match self {
            Store::Cookie => session.seal(jar.sealer),
            Store::Redis { redis, prefix } => {
                let new_id = id.is_none().then(random_token);
                let key_id = id.or(new_id.as_deref()).unwrap_or_default();
                redis
                    .set(&format!("{prefix}{key_id}"), &session.seal(jar.sealer), ttl)
                    .await?;
                match new_id {
                    None => return Ok(Vec::new()),
                    Some(id) => Pointer {
                        id,
                        expires: session.expires,
                    }
                    .seal(jar.sealer),
                }
            }
        };
        cookies::write_chunked(jar.name, &value, jar.attrs, ttl, stale).ok_or_else(|| {
            format!(
                "the session is {} bytes sealed, more than {} cookies hold; use the Redis store or fewer claims",
                value.len(),
                cookies::MAX_CHUNKS
            )
        })
    }

    /// Revokes a Redis session (a cookie session ends when its cookie is cleared).
    pub async fn remove(&self, id: Option<&str>) -> Result<(), String> {
        match (self, id) {
            (Store::Redis { redis, prefix }, Some(id)) => redis.del(&format!("{prefix}{id}")).await,
            _ => Ok(()),
        }
    }
}
