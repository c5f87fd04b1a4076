//! JSON routes: small JSON bodies read whole before the upstream is contacted (at most 64 KiB,
//! what pingora can replay), refused unless they are one JSON object without duplicate keys at
//! any depth (parsers disagree on which duplicate wins), with the required top-level fields of
//! the required types and every URL field passing its [`UrlRule`].

use crate::config::error::ConfigError;
use crate::rejection::Rejection;
use crate::ssrf::UrlRule;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// `[routes.json]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFile {
    /// Body size cap (default and maximum 65536).
    pub max_bytes: Option<usize>,
    /// Top-level field → `string`, `number`, `integer`, `boolean`, `object` or `array`.
    #[serde(default)]
    pub required: BTreeMap<String, String>,
    /// Top-level string fields holding URLs the backend will fetch.
    #[serde(default)]
    pub urls: BTreeMap<String, UrlRuleFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlRuleFile {
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

/// The validated rules of a JSON route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPolicy {
    pub max_bytes: usize,
    required: Vec<(String, String)>,
    urls: Vec<(String, UrlRule)>,
}

const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "object", "array"];
pub const MAX_JSON_BYTES: usize = 65536;

impl JsonPolicy {
    pub fn from_config(f: &JsonFile, at: &str) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let max_bytes = f.max_bytes.unwrap_or(MAX_JSON_BYTES);
        if !(1..=MAX_JSON_BYTES).contains(&max_bytes) {
            errors.push(ConfigError::new(
                format!("{at}.max_bytes"),
                format!("must be 1–{MAX_JSON_BYTES} (the body is read whole before forwarding)"),
            ));
        }
        for (field, t) in &f.required {
            if !TYPES.contains(&t.as_str()) {
                errors.push(ConfigError::new(
                    format!("{at}.required.{field}"),
                    format!("{t:?} is not a JSON type; one of {}", TYPES.join(", ")),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            max_bytes,
            required: f.required.clone().into_iter().collect(),
            urls: f
                .urls
                .iter()
                .map(|(k, u)| {
                    let rule = UrlRule {
                        allow_hosts: u.allow_hosts.clone(),
                    };
                    (k.clone(), rule)
                })
                .collect(),
        })
    }

    /// Checks a complete body; returns the URL fields still to check (they may need DNS).
    pub fn check<'a>(
        &'a self,
        body: &[u8],
    ) -> Result<Vec<(&'a str, String, &'a UrlRule)>, Rejection> {
        let mut de = serde_json::Deserializer::from_slice(body);
        NoDuplicates::deserialize(&mut de)
            .and_then(|_| de.end())
            .map_err(|e| Rejection::BadRequest(format!("the body is not valid JSON: {e}")))?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Rejection::BadRequest(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(Rejection::BadRequest(
                "the body must be a JSON object".into(),
            ));
        };
        for (field, t) in &self.required {
            match obj.get(field) {
                None | Some(Value::Null) => {
                    return Err(Rejection::field(
                        field,
                        false,
                        "missing",
                        format!("the {field} field is required"),
                    ));
                }
                Some(v) if !has_type(v, t) => {
                    return Err(Rejection::field(
                        field,
                        false,
                        "invalid",
                        format!("the {field} field must be a {t}"),
                    ));
                }
                Some(_) => {}
            }
        }
        let mut urls = Vec::new();
        for (field, rule) in &self.urls {
            match obj.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => urls.push((field.as_str(), s.clone(), rule)),
                Some(_) => {
                    return Err(Rejection::field(
                        field,
                        false,
                        "invalid",
                        format!("the {field} field must be a URL string"),
                    ));
                }
            }
        }
        Ok(urls)
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        _ => v.is_array(),
    }
}

/// Deserializes any JSON value, failing on an object with a repeated key at any depth.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut keys = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            // Go's encoding/json and ASP.NET Core match keys without case (the last wins), so
            // `url` and `URL` are one field to them: keys are compared case-folded (full
            // Unicode folding covers Go's folds of 'ſ' and the Kelvin sign too).
            if !keys.insert(fold(&k)) {
                return Err(de::Error::custom(format!(
                    "duplicate key {k:?} (keys are compared without case)"
                )));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

/// `k` case-folded: upper then lower case, so every spelling a case-insensitive parser
/// takes for one name folds to one string.
fn fold(k: &str) -> String {
    k.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> JsonPolicy {
        let f: JsonFile = toml::from_str("required = { url = \"string\" }\n[urls.url]\n").unwrap();
        JsonPolicy::from_config(&f, "routes[0].json").unwrap()
    }

    #[test]
    fn one_object_with_the_required_fields_and_no_duplicates() {
        let p = policy();
        let urls = p.check(br#"{"url":"http://192.0.2.1/a.mp4","n":{"a":[1,{"b":2}]}}"#);
        assert_eq!(urls.unwrap()[0].1, "http://192.0.2.1/a.mp4");
        for (body, code) in [
            (&br#"{"url":"a","url":"b"}"#[..], "bad_request"),
            (br#"{"url":"a","x":{"k":1,"k":2}}"#, "bad_request"),
            (
                br#"{"url":"https://192.0.2.10/a.png","URL":"http://169.254.169.254/"}"#,
                "bad_request",
            ),
            (br#"{"url":"a","x":{"Key":1,"kEY":2}}"#, "bad_request"),
            (
                "{\"url\":\"a\",\"k\":1,\"\u{212a}\":2}".as_bytes(),
                "bad_request",
            ),
            (
                "{\"url\":\"a\",\"s\":1,\"\u{17f}\":2}".as_bytes(),
                "bad_request",
            ),
            (br#"{"url":"a"} {}"#, "bad_request"),
            (br#"["url"]"#, "bad_request"),
            (br#"{"url":1}"#, "validation_error"),
            (br#"{"url":null}"#, "validation_error"),
            (br#"{}"#, "validation_error"),
            (b"{\"url\":\"a\"", "bad_request"),
        ] {
            let r = p.check(body).unwrap_err();
            assert_eq!(r.code(), code, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn config_mistakes_are_reported() {
        let f: JsonFile =
            toml::from_str("max_bytes = 100000\nrequired = { n = \"float\" }").unwrap();
        let e = JsonPolicy::from_config(&f, "r").unwrap_err();
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["r.max_bytes", "r.required.n"]);
    }
}
