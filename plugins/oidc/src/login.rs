//! Signing in: the redirect to the provider, the callback (code exchange, ID
//! token checks, new session) and token refresh.

use gatehouse_plugin_sdk::{deny, jwt::Claims, tracing, Request, Response, ResponseExt};

use crate::{
    cookies, form,
    idtoken::{self, Expect},
    now,
    provider::{Discovered, Tokens},
    redirect::Origin,
    refuse,
    session::Session,
    state::{Login, Refused},
    Oidc,
};

impl Oidc {
    /// The login state cookie's name.
    pub(crate) fn login_cookie(&self) -> String {
        format!("{}_login", self.config.cookie.name)
    }

    /// The `redirect_uri` for a login started by `request`.
    fn redirect_uri(&self, origin: &Origin) -> String {
        match &self.config.redirect_url {
            Some(url) => url.clone(),
            None => format!("{}{}", origin.url(), self.config.callback_path),
        }
    }

    /// Denies with a redirect to the provider's authorization endpoint, the
    /// login's state sealed into a cookie for the callback.
    pub(crate) async fn start_login(&self, request: &Request) -> Response {
        let (Some(origin), Some(return_to)) =
            (Origin::of_request(request), self.policy.return_url(request))
        else {
            return refuse(400, "this host is not one a login may return to");
        };
        let discovered = match self.provider.discovered().await {
            Ok(d) => d,
            Err(why) => return refuse(503, format!("provider unavailable: {why}")),
        };
        let login = Login::new(return_to, self.redirect_uri(&origin), now());
        let mut scopes: Vec<&str> = vec!["openid"];
        scopes.extend(
            self.config
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "openid"),
        );
        let challenge = login.challenge();
        let query = form::encode(&[
            ("response_type", "code"),
            ("client_id", &self.config.client_id),
            ("redirect_uri", &login.redirect_uri),
            ("scope", &scopes.join(" ")),
            ("state", &login.state),
            ("nonce", &login.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let endpoint = &discovered.meta.authorization_endpoint;
        let join = if endpoint.contains('?') { '&' } else { '?' };
        let cookie = cookies::set_cookie(
            &self.login_cookie(),
            &login.seal(&self.sealer),
            &self.login_attrs,
            Some(crate::state::LOGIN_SECONDS),
        );
        deny(self.config.login_status, "sign-in required")
            .response_header("location", &format!("{endpoint}{join}{query}"))
            .response_header("set-cookie", &cookie)
            .response_header("cache-control", "no-store")
    }

    /// The provider sent the browser back: check the state, exchange the code,
    /// check the ID token, start the session, return where the login began.
    pub(crate) async fn callback(&self, request: &Request) -> Response {
        let param = |name| request.query_param(name).and_then(form::unescape);
        if let Some(error) = param("error") {
            // An OAuth error code is [\x20-\x7e] without quotes or backslash; keep
            // only word characters of it, so nothing the link carried is echoed.
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return refuse(401, format!("the provider refused the sign-in: {code}"));
        }
        let (Some(code), Some(state)) = (param("code"), param("state")) else {
            return refuse(400, "callback without code and state");
        };
        let pairs = cookies::pairs(request);
        let now = now();
        let login = cookies::get(&pairs, &self.login_cookie())
            .ok_or(Refused::BadCookie)
            .and_then(|c| Login::open(&self.sealer, c, &state, now))
            .and_then(|login| match self.used.first_use(&login.state) {
                true => Ok(login),
                false => Err(Refused::Replayed),
            });
        let login = match login {
            Ok(login) => login,
            Err(why) => {
                tracing::info!(reason = %why, "OIDC callback refused");
                return refuse(400, format!("login state refused: {why}"));
            }
        };
        let Some(origin) = Origin::of(&login.redirect_uri) else {
            return refuse(400, "login state refused: bad redirect_uri");
        };
        if !self.policy.allows(&login.return_to, &origin) {
            return refuse(400, "login state refused: return URL not allowed");
        }
        let discovered = match self.provider.discovered().await {
            Ok(d) => d,
            Err(why) => return refuse(503, format!("provider unavailable: {why}")),
        };
        let session = match self.sign_in(&discovered, &code, &login, now).await {
            Ok(s) => s,
            Err(why) => {
                tracing::warn!(reason = %why, "OIDC sign-in failed");
                return refuse(401, format!("sign-in failed: {why}"));
            }
        };
        let stale = cookies::present(&pairs, &self.config.cookie.name);
        let set = match self
            .store
            .save(&self.jar(), &session, None, &stale, now)
            .await
        {
            Ok(set) => set,
            Err(why) => return refuse(503, format!("cannot save the session: {why}")),
        };
        // One Set-Cookie per cookie (the login cookie's removal, then the
        // session's); every shipped gateway config passes them all (HAProxy
        // as numbered rsp_hdr copies, nginx proxies the callback: docs/oidc.md).
        let mut response = deny(302, "")
            .response_header("location", &login.return_to)
            .response_header("cache-control", "no-store")
            .response_header(
                "set-cookie",
                &cookies::clear(&self.login_cookie(), &self.login_attrs),
            );
        for c in &set {
            response = response.response_header("set-cookie", c);
        }
        response
    }

    /// Exchanges the code and checks the ID token: the new session.
    async fn sign_in(
        &self,
        discovered: &Discovered,
        code: &str,
        login: &Login,
        now: u64,
    ) -> Result<Session, String> {
        let tokens = self
            .provider
            .exchange(&discovered.meta, code, &login.redirect_uri, &login.verifier)
            .await?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or("no id_token in the answer")?;
        let claims = self
            .id_token_claims(discovered, id_token, Some(&login.nonce), &tokens, now)
            .await?;
        Ok(self.session(
            &claims,
            tokens,
            None,
            now + self.config.cookie.lifetime_seconds,
            now,
        ))
    }

    /// The session after the provider refreshed `old`'s tokens.
    pub(crate) async fn refreshed(&self, old: &Session, now: u64) -> Result<Session, String> {
        let refresh_token = old.refresh_token.as_deref().ok_or("no refresh token")?;
        let discovered = self.provider.discovered().await?;
        let tokens = self
            .provider
            .refresh(&discovered.meta, refresh_token)
            .await?;
        let claims = match tokens.id_token.as_deref() {
            Some(t) => Some(
                self.id_token_claims(&discovered, t, None, &tokens, now)
                    .await?,
            ),
            None => None,
        };
        if let Some(c) = &claims {
            if c.get("sub").and_then(|s| s.as_str()) != Some(old.sub()) {
                return Err("the refreshed ID token names another sub".into());
            }
        }
        let claims = claims.unwrap_or_else(|| old.claims.clone());
        let mut session =
            self.session(&claims, tokens, old.refresh_token.clone(), old.expires, now);
        if session.id_token.is_none() {
            session.id_token.clone_from(&old.id_token);
        }
        Ok(session)
    }

    /// A session from checked claims and tokens.
    fn session(
        &self,
        claims: &Claims,
        tokens: Tokens,
        old_refresh: Option<String>,
        expires: u64,
        now: u64,
    ) -> Session {
        let keep_id = self.config.redis.is_some();
        Session {
            claims: self.publisher.keep(claims),
            access_token: self
                .config
                .forward_access_token
                .then_some(tokens.access_token),
            refresh_token: tokens.refresh_token.or(old_refresh),
            id_token: if keep_id { tokens.id_token } else { None },
            access_expires: tokens.expires_in.map(|s| now + s).unwrap_or(0),
            expires,
        }
    }

    /// The claims of an ID token that passes every check: signature (the JWKS
    /// refetched once for an unknown key), `iss`, `aud`, `exp`, `iat`, `azp`,
    /// `nonce` and `at_hash`.
    async fn id_token_claims(
        &self,
        discovered: &Discovered,
        token: &str,
        nonce: Option<&str>,
        tokens: &Tokens,
        now: u64,
    ) -> Result<Claims, String> {
        let header = self.verifier.header(token).map_err(|e| e.to_string())?;
        let mut keys = discovered.jwks.keys();
        let known = match header.kid.as_deref() {
            Some(kid) => keys.has_kid(kid),
            None => !keys.candidates(None, header.alg).is_empty(),
        };
        if !known {
            discovered.jwks.refetch().await;
            keys = discovered.jwks.keys();
        }
        let claims = self
            .verifier
            .verify(token, &header, &keys)
            .map_err(|e| e.to_string())?;
        let expect = Expect {
            client_id: &self.config.client_id,
            nonce,
            access_token: Some(&tokens.access_token),
            now,
            leeway: self.config.leeway_seconds,
        };
        idtoken::check(&header, &claims, &expect).map_err(|e| e.to_string())?;
        Ok(claims)
    }
}
