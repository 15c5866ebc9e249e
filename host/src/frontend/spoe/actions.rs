//! [`Decision`] → ACK `set-var` actions.
//!
//! Variables set, all in the transaction scope (HAProxy prefixes them with the
//! agent's `var-prefix`, e.g. `txn.auth.allowed`):
//! - `allowed` (bool) and `status` (int: 200 on allow, the plugin's status on deny);
//! - allow: `hdr_<name>` per upstream header the chain set (final merged value;
//!   name lower-cased, every character outside `[a-z0-9]` turned into `_`),
//!   `remove` (comma-separated removed header names), `user` (user id) and the
//!   client response headers;
//! - deny: `body` and the denial's headers.
//!
//! Response headers keep every copy: the first copy of a name is
//! `rsp_hdr_<name>`, the next ones `rsp_hdr_<name>_2` … `rsp_hdr_<name>_16`
//! (two `Set-Cookie` → `rsp_hdr_set_cookie`, `rsp_hdr_set_cookie_2`). A decision
//! that cannot be sent whole (more than [`MAX_HEADER_COPIES`] copies of one
//! name, two headers landing on one variable, or an ACK over the max frame
//! size) is never sent in part: the agent answers [`undeliverable`] instead.

use std::collections::HashSet;

use crate::model::Decision;

use super::frame::{Action, Scope, Value};

/// Copies of one response header name the agent sends (`rsp_hdr_<name>`,
/// `_2` … `_16`). The bundled `Oidc` plugin needs at most 10 (the login
/// cookie's removal, 8 session chunks, a stale cookie's removal); the bound
/// keeps a plugin from making the agent emit variables without end, and the
/// shipped configs read exactly these 16. The negotiated max frame size bounds
/// the total over all names.
pub const MAX_HEADER_COPIES: usize = 16;

/// The status of the denial sent for a decision that cannot be sent whole.
pub const UNDELIVERABLE_STATUS: u16 = 500;

/// The variable name for a header: `prefix` + lower-case name with `[^a-z0-9]` → `_`.
pub fn header_var(prefix: &str, name: &str) -> String {
    let mut var = String::with_capacity(prefix.len() + name.len());
    var.push_str(prefix);
    var.extend(name.chars().map(|c| {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            c
        } else {
            '_'
        }
    }));
    var
}

fn set(name: impl Into<String>, value: Value) -> Action {
    Action::SetVar(Scope::Transaction, name.into(), value)
}

/// The `rsp_hdr_*` actions for `headers`, every copy numbered in order; an
/// error naming the header when one needs more than [`MAX_HEADER_COPIES`]
/// variables or a variable would be set twice (e.g. `x-a-2` next to two `x-a`).
fn response_header_actions(headers: &[(String, String)]) -> Result<Vec<Action>, String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut names = HashSet::new();
    let mut actions = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let base = header_var("rsp_hdr_", name);
        let copy = match seen.iter_mut().find(|(b, _)| *b == base) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((base.clone(), 1));
                1
            }
        };
        if copy > MAX_HEADER_COPIES {
            return Err(format!(
                "more than {MAX_HEADER_COPIES} copies of response header {name}"
            ));
        }
        let var = if copy == 1 {
            base
        } else {
            format!("{base}_{copy}")
        };
        if !names.insert(var.clone()) {
            return Err(format!(
                "response header {name} lands on variable {var}, already set"
            ));
        }
        actions.push(set(var, Value::str(value)));
    }
    Ok(actions)
}

/// The actions answering `decision`, or why it cannot be sent whole.
pub fn to_actions(decision: &Decision) -> Result<Vec<Action>, String> {
    let mut actions = Vec::new();
    match decision {
        Decision::Allow(allowed) => {
            actions.push(set("allowed", Value::Bool(true)));
            actions.push(set("status", Value::Uint32(200)));
            if let Some(user) = &allowed.user_id {
                actions.push(set("user", Value::str(user)));
            }
            for (name, value) in &allowed.set_headers {
                actions.push(set(header_var("hdr_", name), Value::str(value)));
            }
            if !allowed.remove_headers.is_empty() {
                let list = allowed.remove_headers.join(",");
                actions.push(set("remove", Value::str(&list)));
            }
            actions.extend(response_header_actions(&allowed.response_headers)?);
        }
        Decision::Deny(denied) => {
            actions.push(set("allowed", Value::Bool(false)));
            actions.push(set("status", Value::Uint32(u32::from(denied.status))));
            actions.push(set("body", Value::str(&denied.body)));
            actions.extend(response_header_actions(&denied.headers)?);
        }
    }
    Ok(actions)
}

/// The answer when a decision cannot be sent whole: denied with
/// [`UNDELIVERABLE_STATUS`], no headers. Fits the smallest frame; an allow
/// never goes out without the header changes it depends on.
pub fn undeliverable() -> Vec<Action> {
    vec![
        set("allowed", Value::Bool(false)),
        set("status", Value::Uint32(u32::from(UNDELIVERABLE_STATUS))),
        set("body", Value::str("auth answer cannot be delivered")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Allowed, Denied};

    fn deny_with(headers: Vec<(String, String)>) -> Decision {
        Decision::Deny(Denied {
            status: 302,
            body: String::new(),
            headers,
            reason: String::new(),
        })
    }

    fn cookies(n: usize) -> Vec<(String, String)> {
        (1..=n)
            .map(|i| ("Set-Cookie".to_string(), format!("c{i}=v")))
            .collect()
    }

    #[test]
    fn decisions_become_variables() {
        let allow = Decision::Allow(Allowed {
            set_headers: vec![("X-Gatehouse-Team".into(), "verified".into())],
            remove_headers: vec!["a".into(), "b".into()],
            ..Allowed::default()
        });
        let actions = to_actions(&allow).expect("deliverable");
        assert!(actions.contains(&set("allowed", Value::Bool(true))));
        assert!(actions.contains(&set("hdr_x_gatehouse_team", Value::str("verified"))));
        assert!(actions.contains(&set("remove", Value::str("a,b"))));
        let deny = Decision::Deny(Denied {
            status: 401,
            body: "missing".into(),
            headers: vec![],
            reason: String::new(),
        });
        let actions = to_actions(&deny).expect("deliverable");
        assert!(actions.contains(&set("status", Value::Uint32(401))));
        assert!(actions.contains(&set("body", Value::str("missing"))));
    }

    #[test]
    fn every_copy_of_a_response_header_gets_its_own_variable() {
        let mut headers = vec![("location".to_string(), "/back".to_string())];
        headers.extend(cookies(3));
        headers.push(("set-cookie".into(), "lower=case".into()));
        let actions = to_actions(&deny_with(headers)).expect("deliverable");
        for (var, value) in [
            ("rsp_hdr_location", "/back"),
            ("rsp_hdr_set_cookie", "c1=v"),
            ("rsp_hdr_set_cookie_2", "c2=v"),
            ("rsp_hdr_set_cookie_3", "c3=v"),
            ("rsp_hdr_set_cookie_4", "lower=case"),
        ] {
            assert!(actions.contains(&set(var, Value::str(value))), "{var}");
        }
        let allow = Decision::Allow(Allowed {
            response_headers: cookies(2),
            ..Allowed::default()
        });
        let actions = to_actions(&allow).expect("deliverable");
        assert!(actions.contains(&set("rsp_hdr_set_cookie", Value::str("c1=v"))));
        assert!(actions.contains(&set("rsp_hdr_set_cookie_2", Value::str("c2=v"))));
    }

    #[test]
    fn past_the_bound_or_on_a_clash_nothing_is_sent_in_part() {
        let at_bound = to_actions(&deny_with(cookies(MAX_HEADER_COPIES))).expect("16 fit");
        assert!(at_bound.contains(&set("rsp_hdr_set_cookie_16", Value::str("c16=v"))));
        let over = to_actions(&deny_with(cookies(MAX_HEADER_COPIES + 1)));
        assert!(over.expect_err("17 refused").contains("Set-Cookie"));
        let allow_over = Decision::Allow(Allowed {
            response_headers: cookies(MAX_HEADER_COPIES + 1),
            ..Allowed::default()
        });
        assert!(to_actions(&allow_over).is_err());
        // `x-a-2` is the variable of the second `x-a`.
        let clash = vec![
            ("x-a".to_string(), "1".to_string()),
            ("x-a-2".to_string(), "forged".to_string()),
            ("x-a".to_string(), "2".to_string()),
        ];
        assert!(to_actions(&deny_with(clash))
            .expect_err("clash refused")
            .contains("rsp_hdr_x_a_2"));
        assert_eq!(
            undeliverable(),
            vec![
                set("allowed", Value::Bool(false)),
                set("status", Value::Uint32(500)),
                set("body", Value::str("auth answer cannot be delivered")),
            ]
        );
    }
}
