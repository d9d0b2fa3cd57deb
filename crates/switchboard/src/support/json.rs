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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn depth_of_values() {
        assert_eq!(super::depth(&json!(1)), 1);
        assert_eq!(super::depth(&json!({ "a": [1, { "b": [] }] })), 4);
    }
}
