//! The ground's OpenBao for the operator tests: KV v2 writes, and a kubernetes-auth role for the
//! seed's ServiceAccount.

use std::process::Command;

use serde_json::{Value, json};

/// An OpenBao server, called over HTTP with a token.
pub struct Bao {
    pub addr: String,
    pub token: String,
}

impl Bao {
    /// The ground's OpenBao, as root.
    pub fn ground() -> Bao {
        let g = ground::ground();
        Bao {
            addr: g.vault_addr().to_owned(),
            token: g.vault_token().to_owned(),
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-X",
            method,
            "-H",
            &format!("X-Vault-Token: {}", self.token),
            &format!("{}/v1/{path}", self.addr),
        ]);
        if let Some(b) = body {
            cmd.args(["--data", &b.to_string()]);
        }
        let out = ground::run(&mut cmd);
        if out.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out).unwrap_or(Value::Null)
        }
    }

    /// Writes a KV v2 secret at `secret/<path>`.
    pub fn put(&self, path: &str, data: Value) {
        self.call(
            "POST",
            &format!("secret/data/{path}"),
            Some(json!({"data": data})),
        );
    }

    /// The seed guide's OpenBao side for namespace `ns`: its role `external-secrets-<ns>` (see
    /// [`Bao::bind_role`]) and its two api-gateway values under `secret/<ns>/` (made unique per
    /// namespace). Returns the role's name.
    pub fn seed(&self, ns: &str) -> String {
        let role = format!("external-secrets-{ns}");
        self.bind_role(ns, &role, ns);
        self.put(
            &format!("{ns}/api-gateway/database"),
            json!({"password": "db-pass-1"}),
        );
        self.put(
            &format!("{ns}/api-gateway/external-service"),
            json!({"api_key": "key-1"}),
        );
        role
    }

    /// A policy `role` reading `secret/<policy_path>/*` and a kubernetes-auth role of that name
    /// for the ServiceAccount `external-secrets-sa` of `ns` (created here).
    pub fn bind_role(&self, ns: &str, role: &str, policy_path: &str) {
        service_account(ns);
        self.call(
            "PUT",
            &format!("sys/policies/acl/{role}"),
            Some(
                json!({"policy": format!("path \"secret/data/{policy_path}/*\" {{ capabilities = [\"read\"] }}\npath \"secret/metadata/{policy_path}/*\" {{ capabilities = [\"read\", \"list\"] }}")}),
            ),
        );
        self.call(
            "POST",
            &format!("auth/kubernetes/role/{role}"),
            Some(
                json!({"bound_service_account_names": ["external-secrets-sa"], "bound_service_account_namespaces": [ns], "token_policies": [role], "token_ttl": "1h"}),
            ),
        );
    }
}

/// The ServiceAccount `external-secrets-sa` of the seed's stores, in `ns`.
pub fn service_account(ns: &str) {
    let _ = ground::ground()
        .command("kubectl")
        .args(["-n", ns, "create", "serviceaccount", "external-secrets-sa"])
        .output();
}
