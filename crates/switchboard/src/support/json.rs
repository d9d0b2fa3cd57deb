//! JSON nesting depth: the one check both doors (client events and the HTTP API) apply
//! before anything walks a payload.

use serde_json::Value;

/// Nesting depth of a JSON value (a scalar is 1), without recursion.
pub fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// Nesting depth of JSON text, as [`depth`] counts it for the parsed value, read from the
/// bytes without parsing (the publish path checks it before deserializing straight into
/// its types, with no tree built). Meaningful for valid JSON; callers parse afterwards.
pub fn text_depth(text: &[u8]) -> usize {
    let (mut level, mut max) = (0usize, 0usize);
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'[' | b'{' => {
                level += 1;
                max = max.max(level);
            }
            b']' | b'}' => level = level.saturating_sub(1),
            b'"' => {
                // A string (a key counts like the value beside it, never deeper).
                max = max.max(level + 1);
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'0'..=b'9' | b'-' | b't' | b'f' | b'n' => max = max.max(level + 1),
            _ => {}
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn text_depth_agrees_with_the_parsed_depth() {
        for v in [
            json!(1),
            json!("a"),
            json!([]),
            json!({}),
            json!([[]]),
            json!({ "a": [1, { "b": [] }] }),
            json!({ "k\"[{": "x]}\\", "n": [true, null, -1.5e3] }),
            json!([[[[[[[[[["deep"]]]]]]]]]]),
            json!({ "event": "x", "data": { "rows": [{ "a": 1 }, { "b": [2, 3] }] } }),
        ] {
            let text = v.to_string();
            assert_eq!(
                super::text_depth(text.as_bytes()),
                super::depth(&v),
                "{text}"
            );
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(
                super::text_depth(pretty.as_bytes()),
                super::depth(&v),
                "{pretty}"
            );
        }
    }

    #[test]
    fn depth_of_values() {
        assert_eq!(super::depth(&json!(1)), 1);
        assert_eq!(super::depth(&json!({ "a": [1, { "b": [] }] })), 4);
    }
}
