//! Header values that name state entries: `tenant-${tenant}`; `$$` is a `$`.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    State(String),
}

/// A parsed header value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Template(Vec<Part>);

impl TryFrom<String> for Template {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source.as_str();
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$$") {
                text.push('$');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("`${{` without a closing `}}` in `{source}`"))?;
                let key = &after[..end];
                if key.is_empty() {
                    return Err(format!("empty `${{}}` in `{source}`"));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::State(key.to_string()));
                rest = &after[end + 1..];
            } else {
                text.push('$');
                rest = &rest[1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self(parts))
    }
}

impl Template {
    /// The value with each `${key}` replaced by state entry `key`, or None if
    /// any named entry is absent.
    pub fn render<'a>(&self, state: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        self.0.iter().try_fold(String::new(), |mut out, part| {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::State(key) => out.push_str(state(key)?),
            }
            Some(out)
        })
    }
}
