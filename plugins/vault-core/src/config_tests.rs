use super::*;
use ampoule_sdk::CredentialSource;
use serde_json::json;

fn cfg(v: serde_json::Value) -> Config {
    serde_json::from_value(v).unwrap()
}

fn err(v: serde_json::Value) -> String {
    match cfg(v).check() {
        Err(ProviderError::InvalidConfig(m)) => m,
        other => panic!("expected invalid-config, got {other:?}"),
    }
}

fn names(c: &Config) -> Vec<String> {
    c.credentials()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[test]
fn parses_the_seed_store_and_defaults() {
    let c = cfg(
        json!({"server": "http://vault:8200", "path": "secret", "auth": {"kubernetes": {
        "role": "demo", "serviceAccountRef": {"name": "eso"}}}}),
    );
    assert_eq!(c.version, Version::V2);
    assert!(c.check().unwrap().is_empty());
    match c.login().unwrap() {
        Login::Mount {
            method,
            mount,
            suffix,
            fields,
            ..
        } => {
            assert_eq!(
                (method, mount.as_str(), suffix.as_str()),
                ("kubernetes", "kubernetes", "login")
            );
            assert_eq!(fields, [("role", "demo".to_owned())]);
        }
        other => panic!("{other:?}"),
    }
    let creds = c.credentials().unwrap();
    match &creds[0].source {
        CredentialSource::ServiceAccountToken(sa) => {
            assert_eq!(sa.name, "eso");
            assert!(
                sa.audiences.is_empty(),
                "ESO adds no audience for kubernetes auth"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn eso_precedence_and_credentials() {
    let both = cfg(json!({"server": "http://v", "auth": {
        "tokenSecretRef": {"name": "t", "key": "token"},
        "appRole": {"roleId": "r", "secretRef": {"name": "s", "key": "k"}}}}));
    assert_eq!(both.login().unwrap(), Login::Token);
    assert_eq!(names(&both), ["token"]);
    let approle = cfg(json!({"server": "http://v", "auth": {"appRole": {
        "roleRef": {"name": "r", "key": "id"}, "secretRef": {"name": "s", "key": "k"}}}}));
    assert_eq!(names(&approle), ["approle-role-id", "approle-secret-id"]);
    let userpass = cfg(json!({"server": "http://v", "auth": {"userPass": {
        "path": "up", "username": "bob", "secretRef": {"name": "p", "key": "password"}}}}));
    match userpass.login().unwrap() {
        Login::Mount { mount, suffix, .. } => {
            assert_eq!((mount.as_str(), suffix.as_str()), ("up", "login/bob"))
        }
        other => panic!("{other:?}"),
    }
    let k8s_secret = cfg(json!({"server": "http://v", "auth": {"kubernetes": {
        "role": "r", "secretRef": {"name": "jwt"}}}}));
    match &k8s_secret.credentials().unwrap()[0].source {
        CredentialSource::SecretKey(s) => assert_eq!(s.key, "token", "ESO's default key"),
        other => panic!("{other:?}"),
    }
    let jwt = cfg(json!({"server": "http://v", "auth": {"jwt": {"role": "r",
        "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "sa", "audiences": ["a"]}}}}}));
    match &jwt.credentials().unwrap()[0].source {
        CredentialSource::ServiceAccountToken(sa) => assert_eq!(sa.audiences, ["a", "vault"]),
        other => panic!("{other:?}"),
    }
    assert!(
        cfg(json!({"server": "http://v"}))
            .credentials()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn refuses_what_the_sandbox_or_openbao_cannot_do() {
    for (method, body) in [
        (
            "ldap",
            json!({"ldap": {"username": "u", "secretRef": {"name": "p", "key": "k"}}}),
        ),
        ("iam", json!({"iam": {"vaultRole": "r"}})),
        ("gcp", json!({"gcp": {"role": "r"}})),
    ] {
        let m = err(json!({"server": "http://v", "auth": body}));
        assert!(
            m.contains(&format!("the {method} auth method is not supported")),
            "{m}"
        );
    }
    assert!(
        err(json!({"server": "https://v", "auth": {"cert": {"clientCert": {"name": "c"}}}}))
            .contains("auth.cert.clientCert: name and key")
    );
    let cert = json!({"clientCert": {"name": "c", "key": "tls.crt"},
        "secretRef": {"name": "c", "key": "tls.key"}});
    assert!(
        err(json!({"server": "http://v", "auth": {"cert": cert}})).contains("https"),
        "the certificate is presented in the TLS handshake"
    );
    assert!(err(json!({"server": "https://v", "caBundle": "LS0t"})).contains("caBundle"));
    // base64 of "-----BEGIN CERTIFICATE-----"
    let pem_b64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t";
    assert!(
        cfg(json!({"server": "https://v", "caBundle": pem_b64}))
            .check()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        cfg(json!({"server": "http://v", "caBundle": pem_b64}))
            .check()
            .unwrap()
            .len(),
        1
    );
    assert!(
        err(
            json!({"server": "https://v", "caProvider": {"type": "Other", "name": "c", "key": "k"}})
        )
        .contains("Secret or ConfigMap")
    );
    assert!(
        err(json!({"server": "https://v", "tls": {"certSecretRef": {"name": "c"}}}))
            .contains("both ClientTLS.ClientCert and ClientTLS.SecretRef")
    );
    // Without serviceAccountRef or secretRef: the operator's own token (ESO's default).
    let own = cfg(json!({"server": "http://v", "auth": {"kubernetes": {"role": "r"}}}));
    own.check().unwrap();
    assert!(own.uses_controller_identity());
    assert!(own.credentials().unwrap().is_empty(), "no store reference");
    assert!(err(json!({"server": "http://v", "auth": {"kubernetes": {"serviceAccountRef": {"name": "s"}}}})).contains("role"));
    assert!(err(json!({"server": "http://v", "auth": {"appRole": {"secretRef": {"name": "s", "key": "k"}}}})).contains("roleId or roleRef"));
    assert!(
        err(json!({"server": "http://v", "auth": {"jwt": {"role": "r"}}})).contains("token source")
    );
    assert!(err(json!({"server": "http://v", "auth": {}})).contains("no authentication method"));
    assert!(err(json!({"server": "vault:8200"})).contains("server"));
    assert!(matches!(
        parse("{\"server\": 1}"),
        Err(ProviderError::InvalidConfig(_))
    ));
}

#[test]
fn egress_is_exactly_the_origin() {
    let rules = cfg(json!({"server": "https://vault.example.com:8200"}))
        .egress()
        .unwrap();
    assert_eq!(rules.len(), 1);
    let r = &rules[0];
    assert_eq!(
        (r.schemes.as_slice(), r.host.as_str(), r.ports.as_slice()),
        (&["https".to_owned()][..], "vault.example.com", &[8200][..])
    );
    assert_eq!(r.methods, ["GET", "POST", "PUT", "DELETE", "LIST"]);
    assert_eq!(r.path_prefixes, ["/v1/"]);
}

#[test]
fn referent_only_without_namespaces() {
    let referent =
        cfg(json!({"server": "http://v", "auth": {"tokenSecretRef": {"name": "t", "key": "k"}}}));
    assert!(referent.is_referent());
    let fixed = cfg(
        json!({"server": "http://v", "auth": {"tokenSecretRef": {"name": "t", "key": "k", "namespace": "x"}}}),
    );
    assert!(!fixed.is_referent());
}

#[test]
fn cert_login_and_tls_material() {
    let c = cfg(
        json!({"server": "https://v", "caProvider": {"type": "Secret", "name": "ca", "key": "ca.crt"},
        "tls": {"certSecretRef": {"name": "mtls"}, "keySecretRef": {"name": "mtls"}},
        "auth": {"cert": {"vaultRole": "web", "clientCert": {"name": "c", "key": "crt"},
            "secretRef": {"name": "c", "key": "key"}}}}),
    );
    assert!(c.check().unwrap().is_empty());
    assert_eq!(
        c.login().unwrap(),
        Login::Mount {
            method: "cert",
            mount: "cert".into(),
            suffix: "login".into(),
            fields: vec![("name", "web".into())],
            secrets: Vec::new(),
        }
    );
    let names: Vec<String> = c
        .credentials()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        [
            "ca-provider",
            "cert-auth-client-cert",
            "cert-auth-client-key"
        ],
        "cert auth's certificate wins over tls.certSecretRef, as ESO"
    );
    let mtls = cfg(json!({"server": "https://v",
        "tls": {"certSecretRef": {"name": "mtls"}, "keySecretRef": {"name": "mtls"}}}));
    let keys: Vec<(String, String)> = mtls
        .credentials()
        .unwrap()
        .into_iter()
        .map(|r| match r.source {
            CredentialSource::SecretKey(s) => (r.name, s.key),
            _ => panic!("a Secret key"),
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("tls-cert".to_owned(), "tls.crt".to_owned()),
            ("tls-key".to_owned(), "tls.key".to_owned())
        ]
    );
    let plain = cfg(
        json!({"server": "http://v", "caProvider": {"type": "Secret", "name": "ca", "key": "k"}}),
    );
    assert!(
        plain.credentials().unwrap().is_empty(),
        "plain http needs no CA"
    );
}

#[test]
fn check_and_set_needs_kv_v2() {
    let tok = json!({"tokenSecretRef": {"name": "t", "key": "k"}});
    let v1 = cfg(
        json!({"server": "http://v", "path": "kv", "version": "v1", "auth": tok, "checkAndSet": {"required": true}}),
    );
    assert!(matches!(v1.check(), Err(ProviderError::InvalidConfig(m))
        if m == "checkAndSet is not supported with Vault KV version v1"));
    let v2 = cfg(json!({"server": "http://v", "auth": tok, "checkAndSet": {"required": true}}));
    assert!(v2.check().is_ok() && v2.cas_required());
    let off = cfg(
        json!({"server": "http://v", "path": "kv", "version": "v1", "auth": tok, "checkAndSet": {}}),
    );
    assert!(off.check().is_ok() && !off.cas_required());
}
