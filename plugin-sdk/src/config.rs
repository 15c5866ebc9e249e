//! Config text → the plugin's serde struct, with the failing field's path.

use gatehouse_plugin_api::{ErrorKind, PluginError};
use serde::de::DeserializeOwned;

/// Parses `text` (JSON; `null` or empty means `{}`) into `T`. Type errors name
/// the field path, e.g. `allowedValues[2]: invalid type: ...`.
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, PluginError> {
    let text = text.trim();
    let value: serde_json::Value = if text.is_empty() || text == "null" {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(text)
            .map_err(|e| PluginError::new(ErrorKind::Config, format!("config is not JSON: {e}")))?
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        PluginError::new(ErrorKind::Config, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        allowed_values: Vec<String>,
    }

    #[test]
    fn type_error_names_the_field_path() {
        let err = parse::<Cfg>(r#"{"allowedValues": ["a", "b", 3]}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message
                .starts_with("allowedValues[2]: invalid type: integer `3`, expected a string"),
            "{}",
            err.message
        );
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let err = parse::<Cfg>("null").unwrap_err();
        assert!(
            err.message.contains("missing field `allowedValues`"),
            "{}",
            err.message
        );
        let err = parse::<Cfg>(r#"{"allowedValues": [], "bogus": 1}"#).unwrap_err();
        assert!(
            err.message.contains("unknown field `bogus`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn syntax_error_is_reported() {
        let err = parse::<Cfg>("{").unwrap_err();
        assert!(
            err.message.starts_with("config is not JSON"),
            "{}",
            err.message
        );
    }
}
