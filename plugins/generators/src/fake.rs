//! ESO's Fake generator: `spec.data` returned as it is (`spec.controller` is for ESO's
//! controller class and not read here).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, Output};

#[derive(Debug, Default, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, Error> {
        serde_json::from_str(spec).map_err(|e| Error::Spec(format!("unable to parse spec: {e}")))
    }

    pub fn generate(self) -> Output {
        self.data
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_as_is() {
        let out = super::Spec::parse(r#"{"controller":"x","data":{"a":"1","b":""}}"#)
            .unwrap()
            .generate();
        assert_eq!(
            out,
            vec![("a".into(), b"1".to_vec()), ("b".into(), Vec::new())]
        );
        assert!(super::Spec::parse("{}").unwrap().generate().is_empty());
        assert!(super::Spec::parse(r#"{"data":{"a":1}}"#).is_err());
    }
}
