//! ESO's template application (docs/eso-behaviour.md#templates): resolve `templateFrom` ConfigMaps
//! and Secrets (same namespace only), have the template component render, then merge with the
//! fetched data by `mergePolicy`. No template: the fetched data and the ExternalSecret's own labels
//! and annotations, as ESO copies them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Client, ResourceExt};

use super::context::Context;
use super::error::Error;
use super::target::Shape;
use crate::crd::ExternalSecret;
use crate::crd::data::DecodingStrategy;
use crate::crd::template::{
    ExternalSecretTemplate, TemplateFrom, TemplateMergePolicy, TemplateRef, TemplateScope,
};
use crate::provider::SecretValue;
use crate::redact::Redacted;
use crate::transform::{
    Decoding, Item, RenderRequest, Scope, Source, Target, TransformError, Transformer,
};

/// Where templateFrom ConfigMaps and Secrets are read: the cluster (the ExternalSecret's
/// namespace), or objects given to `ampoule render`.
pub enum Lookup<'a> {
    Cluster(&'a Client),
    Objects {
        config_maps: &'a [ConfigMap],
        secrets: &'a [Secret],
    },
}

/// The target Secret's content for `es` from the fetched data.
pub async fn shape(
    ctx: &Context,
    es: &ExternalSecret,
    fetched: BTreeMap<String, SecretValue>,
) -> Result<Shape, Error> {
    shape_with(
        &Lookup::Cluster(&ctx.client),
        ctx.transformer.as_ref(),
        &ctx.settings.template_delimiters,
        es,
        fetched,
    )
    .await
}

/// [`shape`] with templateFrom sources from `lookup` and rendering by `transformer`.
pub async fn shape_with(
    lookup: &Lookup<'_>,
    transformer: &dyn Transformer,
    delimiters: &(String, String),
    es: &ExternalSecret,
    fetched: BTreeMap<String, SecretValue>,
) -> Result<Shape, Error> {
    let Some(tpl) = &es.spec.target.template else {
        return Ok(Shape {
            data: fetched,
            labels: es.labels().clone(),
            annotations: es.annotations().clone(),
            type_: None,
            finalizers: Vec::new(),
        });
    };
    render(
        lookup,
        transformer,
        delimiters,
        &es.namespace().unwrap_or_default(),
        tpl,
        fetched,
    )
    .await
}

/// Applies `tpl` to `fetched` for an object in namespace `ns` (templateFrom sources are read
/// there): ESO's template step, shared by ExternalSecrets and PushSecrets.
pub async fn render(
    lookup: &Lookup<'_>,
    transformer: &dyn Transformer,
    delimiters: &(String, String),
    ns: &str,
    tpl: &ExternalSecretTemplate,
    fetched: BTreeMap<String, SecretValue>,
) -> Result<Shape, Error> {
    check_privileged(tpl)?;
    let sources = resolve(lookup, ns, &tpl.template_from).await?;
    let (labels, annotations, finalizers) = match &tpl.metadata {
        Some(m) => (
            m.labels.clone(),
            m.annotations.clone(),
            m.finalizers.clone(),
        ),
        None => Default::default(),
    };
    let request = RenderRequest {
        data: fetched.clone(),
        sources,
        data_templates: tpl.data.clone(),
        label_templates: labels,
        annotation_templates: annotations,
        delimiters: delimiters.clone(),
    };
    let rendered = if renders_nothing(tpl) {
        Default::default()
    } else {
        transformer
            .render(request)
            .await
            .map_err(|e| template_error(e, &fetched))?
    };
    let no_template = tpl.data.is_empty() && tpl.template_from.is_empty();
    let mut data = if tpl.merge_policy == TemplateMergePolicy::Merge || no_template {
        fetched
    } else {
        BTreeMap::new()
    };
    data.extend(rendered.data);
    Ok(Shape {
        data,
        labels: rendered.labels,
        annotations: rendered.annotations,
        type_: tpl.type_.clone().filter(|t| !t.is_empty()),
        finalizers,
    })
}

/// ESO's privileged-template rules (GHSA-fq7h-9x26-6j22), which the CRD's CEL rules also
/// enforce at admission, checked again here as ESO's controller does: an object stored before
/// the rules existed (or under ESO's webhook with `failurePolicy: Ignore`) never met them, and
/// would have the apiserver mint a ServiceAccount token into a Secret the tenant reads.
pub fn check_privileged(tpl: &ExternalSecretTemplate) -> Result<(), Error> {
    use crate::crd::template::rules;
    match tpl.type_.as_deref() {
        Some("bootstrap.kubernetes.io/token") => {
            Err(Error::PrivilegedTemplate(rules::BOOTSTRAP_TOKEN_MSG))
        }
        Some("kubernetes.io/service-account-token") => {
            let annotated = tpl.metadata.as_ref().is_some_and(|m| {
                m.annotations
                    .contains_key("kubernetes.io/service-account.name")
            });
            if annotated {
                return Err(Error::PrivilegedTemplate(rules::SA_TOKEN_ANNOTATION_MSG));
            }
            if tpl
                .template_from
                .iter()
                .any(|t| t.target.eq_ignore_ascii_case("annotations"))
            {
                return Err(Error::PrivilegedTemplate(rules::SA_TOKEN_TEMPLATE_FROM_MSG));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A template with only `type` (or finalizers) set has nothing to render.
fn renders_nothing(tpl: &ExternalSecretTemplate) -> bool {
    tpl.data.is_empty()
        && tpl.template_from.is_empty()
        && tpl
            .metadata
            .as_ref()
            .is_none_or(|m| m.labels.is_empty() && m.annotations.is_empty())
}

/// A template failure as a controller error, with every fetched value that the message might
/// quote (a `fail` call, a parse error of a value) replaced by `<redacted>`.
pub fn template_error(e: TransformError, data: &BTreeMap<String, SecretValue>) -> Error {
    let mut text = e.to_string();
    let mut values: Vec<String> = data
        .values()
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
        .filter(|v| v.chars().count() >= 4)
        .collect();
    // Longest first, so a value containing another is removed whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in values {
        if text.contains(&v) {
            text = text.replace(&v, "<redacted>");
        }
    }
    Error::Template(text)
}

/// Reads every templateFrom source in the ExternalSecret's namespace, in order.
async fn resolve(
    lookup: &Lookup<'_>,
    ns: &str,
    from: &[TemplateFrom],
) -> Result<Vec<Source>, Error> {
    let mut out = Vec::new();
    for entry in from {
        let target = match entry.target.to_ascii_lowercase().as_str() {
            "" | "data" => Target::Data,
            "labels" => Target::Labels,
            "annotations" => Target::Annotations,
            other => {
                return Err(Error::InvalidSpec(format!(
                    "templateFrom target=\"{other}\" is not allowed when targeting a Secret, must be one of \"Data\", \"Annotations\" or \"Labels\""
                )));
            }
        };
        let decoding = match entry.values_decoding_strategy.unwrap_or_default() {
            DecodingStrategy::None => Decoding::None,
            DecodingStrategy::Base64 => Decoding::Base64,
            DecodingStrategy::Base64Url => Decoding::Base64Url,
            DecodingStrategy::Auto => Decoding::Auto,
        };
        // ESO merges a ConfigMap, then a Secret, then a literal of the same entry.
        if let Some(r) = &entry.config_map {
            let cm = match lookup {
                Lookup::Cluster(client) => Api::<ConfigMap>::namespaced((*client).clone(), ns)
                    .get(&r.name)
                    .await
                    .map_err(|e| fetch_error(e, "configmaps", &r.name))?,
                Lookup::Objects { config_maps, .. } => find(config_maps, &r.name, "configmaps")?,
            };
            let data = cm.data.unwrap_or_default();
            let items = items(r, "configmap", |k| data.get(k).cloned())?;
            out.push(Source {
                target,
                decoding,
                items,
            });
        }
        if let Some(r) = &entry.secret {
            let secret = match lookup {
                Lookup::Cluster(client) => Api::<Secret>::namespaced((*client).clone(), ns)
                    .get(&r.name)
                    .await
                    .map_err(|e| fetch_error(e, "secrets", &r.name))?,
                Lookup::Objects { secrets, .. } => find(secrets, &r.name, "secrets")?,
            };
            let data = secret.data.unwrap_or_default();
            let items = items(r, "secret", |k| {
                data.get(k)
                    .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            })?;
            out.push(Source {
                target,
                decoding,
                items,
            });
        }
        if let Some(literal) = &entry.literal {
            out.push(Source {
                target,
                decoding,
                items: vec![Item {
                    key: literal.clone(),
                    text: Redacted::new(literal.clone()),
                    scope: Scope::KeysAndValues,
                }],
            });
        }
    }
    Ok(out)
}

fn items(
    r: &TemplateRef,
    kind: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Item>, Error> {
    r.items
        .iter()
        .map(|item| {
            let text = lookup(&item.key).ok_or_else(|| {
                Error::Template(format!(
                    "error fetching templateFrom data: error in {kind} {}: missing key {}",
                    r.name, item.key
                ))
            })?;
            Ok(Item {
                key: item.key.clone(),
                text: Redacted::new(text),
                scope: match item.template_as {
                    TemplateScope::Values => Scope::Values,
                    TemplateScope::KeysAndValues => Scope::KeysAndValues,
                },
            })
        })
        .collect()
}

fn find<K: ResourceExt + Clone>(objects: &[K], name: &str, resource: &str) -> Result<K, Error> {
    objects
        .iter()
        .find(|o| o.name_any() == name)
        .cloned()
        .ok_or_else(|| {
            Error::Template(format!(
                "error fetching templateFrom data: {resource} \"{name}\" not found"
            ))
        })
}

fn fetch_error(e: kube::Error, resource: &str, name: &str) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 404 => Error::Template(format!(
            "error fetching templateFrom data: {resource} \"{name}\" not found"
        )),
        other => Error::Template(format!("error fetching templateFrom data: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_templates_are_refused_with_esos_messages() {
        use crate::crd::template::rules;
        let tpl =
            |v: serde_json::Value| -> ExternalSecretTemplate { serde_json::from_value(v).unwrap() };
        let sa = "kubernetes.io/service-account-token";
        let refused = |t: ExternalSecretTemplate| match check_privileged(&t) {
            Err(Error::PrivilegedTemplate(m)) => m,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            refused(tpl(serde_json::json!({"type": sa,
                "metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}}))),
            rules::SA_TOKEN_ANNOTATION_MSG
        );
        assert_eq!(
            refused(tpl(
                serde_json::json!({"type": sa, "templateFrom": [{"target": "ANNOTATIONS", "literal": "a: b"}]})
            )),
            rules::SA_TOKEN_TEMPLATE_FROM_MSG
        );
        assert_eq!(
            refused(tpl(
                serde_json::json!({"type": "bootstrap.kubernetes.io/token"})
            )),
            rules::BOOTSTRAP_TOKEN_MSG
        );
        // A service-account-token type alone, or the annotation on another type, is ESO's to allow.
        assert!(check_privileged(&tpl(serde_json::json!({"type": sa}))).is_ok());
        assert!(
            check_privileged(&tpl(serde_json::json!({"type": "Opaque",
                "metadata": {"annotations": {"kubernetes.io/service-account.name": "x"}}})))
            .is_ok()
        );
    }

    #[test]
    fn template_errors_never_quote_fetched_values() {
        let data = BTreeMap::from([
            (
                "password".to_string(),
                SecretValue::new(b"hunter22".to_vec()),
            ),
            ("short".to_string(), SecretValue::new(b"ab".to_vec())),
        ]);
        let err = template_error(
            TransformError::Template("error calling fail: bad value hunter22 for ab".to_string()),
            &data,
        );
        assert_eq!(
            err.to_string(),
            "could not apply template: error calling fail: bad value <redacted> for ab"
        );
    }
}
