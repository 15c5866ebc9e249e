//! Signing out: the session is revoked (Redis) and its cookies cleared, and the
//! browser goes to the provider's end-session endpoint (RP-initiated logout)
//! or to `afterLogoutUrl`.

use gatehouse_plugin_sdk::{deny, Request, Response, ResponseExt};

use crate::{cookies, form, now, refuse, Oidc};

impl Oidc {
    /// Ends the request's session, if any, and redirects.
    pub(crate) async fn logout(&self, request: &Request) -> Response {
        let pairs = cookies::pairs(request);
        let loaded = match self.store.load(&self.jar(), &pairs, now()).await {
            Ok(loaded) => loaded,
            Err(why) => return refuse(503, format!("session store unavailable: {why}")),
        };
        let mut id_token_hint = None;
        if let Some(loaded) = &loaded {
            if let Err(why) = self.store.remove(loaded.id.as_deref()).await {
                return refuse(503, format!("cannot revoke the session: {why}"));
            }
            id_token_hint = loaded.session.id_token.clone();
        }
        let location = self.after_logout(id_token_hint.as_deref()).await;
        let mut response = deny(302, "")
            .response_header("location", &location)
            .response_header("cache-control", "no-store");
        for name in cookies::present(&pairs, &self.config.cookie.name) {
            response =
                response.response_header("set-cookie", &cookies::clear(&name, &self.session_attrs));
        }
        response
    }

    /// The provider's end-session URL (with `client_id`, the
    /// `post_logout_redirect_uri` and an `id_token_hint` when known), else
    /// `afterLogoutUrl`, else `/`.
    async fn after_logout(&self, id_token_hint: Option<&str>) -> String {
        let after = self.config.after_logout_url.as_deref();
        let end = match self.provider.discovered().await {
            Ok(d) => d.meta.end_session_endpoint.clone(),
            Err(_) => None,
        };
        let Some(end) = end else {
            return after.unwrap_or("/").to_string();
        };
        let mut params = vec![("client_id", self.config.client_id.as_str())];
        if let Some(after) = after {
            params.push(("post_logout_redirect_uri", after));
        }
        if let Some(hint) = id_token_hint {
            params.push(("id_token_hint", hint));
        }
        let join = if end.contains('?') { '&' } else { '?' };
        format!("{end}{join}{}", form::encode(&params))
    }
}
