//! The bytes ESO writes for JSON it decoded into Go's `any` (numbers `float64`, objects with
//! sorted keys, Go's `encoding/json` text, not serde_json's), so a merged Secret is byte-identical
//! to the one ESO writes: ampoule-gojson's, the one implementation the plugins and the template
//! component use too.

pub(super) use ampoule_gojson::{byte_value, marshal};
