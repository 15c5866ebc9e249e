//! Envoy's `Metadata` (`filter_metadata`: namespace → `google.protobuf.Struct`)
//! as the JSON text plugins get: `{"<namespace>": {<fields>}}`, the protobuf
//! JSON mapping of each Struct, keys sorted so the text does not depend on the
//! order the protobuf maps were decoded in. `typed_filter_metadata` (`Any`
//! values, which need their message types to be read) is left out.

use std::{collections::HashMap, fmt::Write};

use envoy_types::pb::{
    envoy::config::core::v3::Metadata,
    google::protobuf::{value::Kind, Struct, Value},
};

/// Doubles with no fraction up to this magnitude are written as integers
/// (`8080`, not `8080.0`), as protobuf's JSON mapping does; all are exact.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53

/// `metadata`'s `filter_metadata` as JSON text; empty when there is none.
pub(super) fn to_json(metadata: Option<&Metadata>) -> String {
    let Some(metadata) = metadata.filter(|m| !m.filter_metadata.is_empty()) else {
        return String::new();
    };
    let mut out = String::new();
    sorted(&mut out, &metadata.filter_metadata, object);
    out
}

fn object(out: &mut String, object: &Struct) {
    sorted(out, &object.fields, value);
}

/// A JSON object of `map`'s entries, keys sorted, each value written by `each`.
fn sorted<V>(out: &mut String, map: &HashMap<String, V>, each: fn(&mut String, &V)) {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, key);
        out.push(':');
        each(out, v);
    }
    out.push('}');
}

fn value(out: &mut String, v: &Value) {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => out.push_str("null"),
        Some(Kind::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Kind::NumberValue(n)) => number(out, *n),
        Some(Kind::StringValue(s)) => string(out, s),
        Some(Kind::StructValue(s)) => object(out, s),
        Some(Kind::ListValue(list)) => {
            out.push('[');
            for (i, item) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(out, item);
            }
            out.push(']');
        }
    }
}

/// NaN and the infinities have no JSON form (protobuf's mapping rejects them):
/// they are written as `null`.
fn number(out: &mut String, n: f64) {
    // Writing into a String cannot fail.
    let _ = if !n.is_finite() {
        out.write_str("null")
    } else if n.fract() == 0.0 && n.abs() <= EXACT_INTEGER {
        write!(out, "{}", n as i64)
    } else {
        // Debug is the shortest text that reads back as `n` (`0.1`, `1e300`).
        write!(out, "{n:?}")
    };
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::google::protobuf::ListValue;

    use super::*;

    fn v(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    fn obj(fields: &[(&str, Value)]) -> Struct {
        Struct {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn meta(namespaces: &[(&str, Struct)]) -> Metadata {
        Metadata {
            filter_metadata: namespaces
                .iter()
                .map(|(k, s)| (k.to_string(), s.clone()))
                .collect::<HashMap<_, _>>(),
            ..Default::default()
        }
    }

    #[test]
    fn every_value_kind_maps_to_its_json_form_with_sorted_keys() {
        let fields = obj(&[
            ("tier", v(Kind::StringValue("gold".into()))),
            ("port", v(Kind::NumberValue(8080.0))),
            ("ratio", v(Kind::NumberValue(0.25))),
            ("huge", v(Kind::NumberValue(1e300))),
            ("nan", v(Kind::NumberValue(f64::NAN))),
            ("on", v(Kind::BoolValue(true))),
            ("none", v(Kind::NullValue(0))),
            ("unset", Value { kind: None }),
            (
                "list",
                v(Kind::ListValue(ListValue {
                    values: vec![v(Kind::NumberValue(-1.0)), v(Kind::StringValue("a".into()))],
                })),
            ),
            (
                "nested",
                v(Kind::StructValue(obj(&[("b", v(Kind::BoolValue(false)))]))),
            ),
        ]);
        let json = to_json(Some(&meta(&[
            ("z.last", obj(&[])),
            ("acme.tenant", fields),
        ])));
        assert_eq!(
            json,
            r#"{"acme.tenant":{"huge":1e300,"list":[-1,"a"],"nan":null,"nested":{"b":false},"none":null,"on":true,"port":8080,"ratio":0.25,"tier":"gold","unset":null},"z.last":{}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["acme.tenant"]["port"].as_u64(), Some(8080));
    }

    #[test]
    fn strings_are_escaped() {
        let fields = obj(&[("k\"ey", v(Kind::StringValue("a\\b\n\u{1}é".into())))]);
        let json = to_json(Some(&meta(&[("ns", fields)])));
        assert_eq!(json, r#"{"ns":{"k\"ey":"a\\b\n\u0001é"}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["ns"]["k\"ey"], "a\\b\n\u{1}é");
    }

    #[test]
    fn absent_or_empty_metadata_is_empty_text() {
        assert_eq!(to_json(None), "");
        assert_eq!(to_json(Some(&Metadata::default())), "");
    }
}
