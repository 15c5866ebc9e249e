//! Reading cookies from a request and writing `Set-Cookie` values: the
//! session's attributes, and values over the browser's 4 KB limit split into
//! `<name>_0`, `<name>_1`, ... chunks.

use gatehouse_plugin_sdk::Request;

/// Browsers keep cookies up to 4096 bytes (name, value and attributes); a value
/// longer than this is split.
pub const CHUNK: usize = 3800;

/// At most this many chunks are read or written (so at most ~30 KB).
pub const MAX_CHUNKS: usize = 8;

/// The attributes every cookie of one step gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `Domain`, if any.
    pub domain: Option<String>,
    /// `Secure`.
    pub secure: bool,
    /// `Path` (the session: `/`; the login state: the callback path).
    pub path: String,
}

/// Every `(name, value)` cookie pair of the request, in order.
pub fn pairs(request: &Request) -> Vec<(&str, &str)> {
    request
        .headers("cookie")
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim(), v))
        })
        .collect()
}

/// The value of cookie `name`: the first copy.
pub fn get<'a>(pairs: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// The chunk cookie names of `name`.
pub fn chunk_name(name: &str, i: usize) -> String {
    format!("{name}_{i}")
}

/// The value stored under `name`: the cookie itself, or its chunks `_0`, `_1`,
/// ... joined until one is missing.
pub fn read_chunked(pairs: &[(&str, &str)], name: &str) -> Option<String> {
    if let Some(v) = get(pairs, name) {
        return Some(v.to_string());
    }
    let mut joined = String::new();
    for i in 0..MAX_CHUNKS {
        match get(pairs, &chunk_name(name, i)) {
            Some(part) => joined.push_str(part),
            None => break,
        }
    }
    (!joined.is_empty()).then_some(joined)
}

/// How many cookies named `name` or `<name>_<i>` the request carries, as names.
pub fn present(pairs: &[(&str, &str)], name: &str) -> Vec<String> {
    let mut names = Vec::new();
    if get(pairs, name).is_some() {
        names.push(name.to_string());
    }
    for i in 0..MAX_CHUNKS {
        let n = chunk_name(name, i);
        if get(pairs, &n).is_some() {
            names.push(n);
        }
    }
    names
}

/// One `Set-Cookie` value: `HttpOnly; SameSite=Lax` always, `Max-Age` when given.
pub fn set_cookie(name: &str, value: &str, attrs: &Attributes, max_age: Option<u64>) -> String {
    let mut out = format!("{name}={value}; Path={}", attrs.path);
    if let Some(domain) = &attrs.domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    if attrs.secure {
        out.push_str("; Secure");
    }
    out.push_str("; HttpOnly; SameSite=Lax");
    out
}

/// A `Set-Cookie` that removes cookie `name`.
pub fn clear(name: &str, attrs: &Attributes) -> String {
    set_cookie(name, "", attrs, Some(0))
}

/// The `Set-Cookie` values storing `value` under `name`: one cookie when it
/// fits, else chunks; plus removals of whatever of `stale` (cookie names the
/// request carried) the new cookies do not overwrite. None if it needs more
/// than [`MAX_CHUNKS`] chunks.
pub fn write_chunked(
    name: &str,
    value: &str,
    attrs: &Attributes,
    max_age: u64,
    stale: &[String],
) -> Option<Vec<String>> {
    let mut written = Vec::new();
    let mut out = Vec::new();
    if value.len() <= CHUNK {
        out.push(set_cookie(name, value, attrs, Some(max_age)));
        written.push(name.to_string());
    } else {
        let parts: Vec<&str> = split(value, CHUNK);
        if parts.len() > MAX_CHUNKS {
            return None;
        }
        for (i, part) in parts.iter().enumerate() {
            let n = chunk_name(name, i);
            out.push(set_cookie(&n, part, attrs, Some(max_age)));
            written.push(n);
        }
    }
    for old in stale {
        if !written.contains(old) {
            out.push(clear(old, attrs));
        }
    }
    Some(out)
}

/// `value` (ASCII) in pieces of at most `size` bytes.
fn split(value: &str, size: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let at = size.min(rest.len());
        let at = (0..=at)
            .rev()
            .find(|i| rest.is_char_boundary(*i))
            .unwrap_or(0);
        let (head, tail) = rest.split_at(at.max(1).min(rest.len()));
        parts.push(head);
        rest = tail;
    }
    parts
}
