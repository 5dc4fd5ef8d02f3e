//! KV v2 and v1 reads, properties, versions, metadata, extract and find.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv2_reads_with_token_auth() {
    let e = env("vault-kv2", true).await;
    e.policy(&[&format!("secret/+/{}", e.id)]);
    e.token_secret().await;
    let base = format!("{}/app", e.id);
    let nested = json!({"user": "admin", "a.b": "dotted", "conn": {"host": "db", "ports": [5432, 5433]},
                        "list": [{"name": "x", "v": "1"}, {"name": "y", "v": "2"}]});
    bao_write(
        &format!("secret/data/{base}"),
        json!({"data": {"user": "v1"}}),
    );
    bao_write(&format!("secret/data/{base}"), json!({"data": nested}));
    bao(&[
        "kv",
        "metadata",
        "put",
        "-custom-metadata=team=payments",
        &format!("secret/{base}"),
    ]);
    let config = json!({"server": e.server(), "path": "secret", "version": "v2",
                        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}});
    let c = e.client(config).await.unwrap();
    assert_eq!(c.validate().await.unwrap(), Validation::Valid);
    assert_eq!(text(&*c, &prop(&base, "user")).await, "admin");
    assert_eq!(
        text(&*c, &prop(&base, "a.b")).await,
        "dotted",
        "a key containing a dot wins"
    );
    assert_eq!(text(&*c, &prop(&base, "conn.host")).await, "db");
    assert_eq!(text(&*c, &prop(&base, "conn.ports.1")).await, "5433");
    assert_eq!(text(&*c, &prop(&base, r#"list.#(name=="y").v"#)).await, "2");
    assert_eq!(
        text(&*c, &prop(&base, "conn")).await,
        r#"{"host":"db","ports":[5432,5433]}"#
    );
    let whole: Value = serde_json::from_str(&text(&*c, &r(&base)).await).unwrap();
    assert_eq!(whole, nested);
    let v1 = RemoteRef {
        version: Some("1".into()),
        ..prop(&base, "user")
    };
    assert_eq!(text(&*c, &v1).await, "v1");
    // The key may also carry the mount (ESO's buildPath).
    assert_eq!(
        text(&*c, &prop(&format!("secret/{base}"), "user")).await,
        "admin"
    );
    let md = RemoteRef {
        fetch_metadata: true,
        ..prop(&base, "team")
    };
    assert_eq!(text(&*c, &md).await, "payments");
    let map = c.get_secret_map(&r(&base)).await.unwrap();
    assert_eq!(map["user"].expose(), b"admin");
    assert_eq!(
        map["conn"].expose(),
        br#"{"host":"db","ports":[5432,5433]}"#
    );
    assert_eq!(
        c.get_secret(&r(&format!("{}/missing", e.id)))
            .await
            .unwrap_err(),
        ProviderError::NotFound
    );
    let err = c.get_secret(&prop(&base, "nope")).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot find secret data for key"),
        "{err}"
    );
    // Outside the policy: forbidden, with Vault's words.
    let err = c.get_secret(&r("other/place")).await.unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(err.to_string().contains("permission denied"), "{err}");
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv1_mount_and_find_by_path_regexp_and_tags() {
    let e = env("vault-find", true).await;
    let kv1 = format!("kv1-{}", e.id);
    bao(&[
        "secrets",
        "enable",
        &format!("-path={kv1}"),
        "-version=1",
        "kv",
    ]);
    e.policy(&[&format!("secret/+/{}", e.id), &kv1]);
    e.token_secret().await;
    bao_write(&format!("{kv1}/db/main"), json!({"password": "p1", "n": 3}));
    bao_write(&format!("{kv1}/db/replica"), json!({"password": "p2"}));
    let auth = json!({"tokenSecretRef": {"name": "vault-token", "key": "token"}});
    let v1 = e
        .client(json!({"server": e.server(), "path": kv1, "version": "v1", "auth": auth}))
        .await
        .unwrap();
    assert_eq!(text(&*v1, &prop("db/main", "password")).await, "p1");
    assert_eq!(
        v1.get_secret_map(&r("db/main")).await.unwrap()["n"].expose(),
        b"3"
    );
    assert_eq!(
        v1.get_secret(&r("db/none")).await.unwrap_err(),
        ProviderError::NotFound
    );
    let found = v1
        .get_all_secrets(&FindRef {
            path: Some("db".into()),
            name_regexp: Some("rep".into()),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["db/replica"]);
    let tags = FindRef {
        tags: [("team".to_owned(), "a".to_owned())].into(),
        ..FindRef::default()
    };
    assert_eq!(
        v1.get_all_secrets(&tags).await.unwrap_err().category(),
        "invalid_config"
    );

    let root = e.id.clone();
    for (path, team) in [
        ("a/one", "a"),
        ("a/deep/two", "b"),
        ("a/deep/er/three", "a"),
        ("b/four", "a"),
    ] {
        bao_write(
            &format!("secret/data/{root}/{path}"),
            json!({"data": {"name": path}}),
        );
        bao(&[
            "kv",
            "metadata",
            "put",
            &format!("-custom-metadata=team={team}"),
            &format!("secret/{root}/{path}"),
        ]);
    }
    let v2 = e
        .client(json!({"server": e.server(), "path": "secret", "auth": auth}))
        .await
        .unwrap();
    let all = v2
        .get_all_secrets(&FindRef {
            path: Some(format!("{root}/a")),
            ..FindRef::default()
        })
        .await
        .unwrap();
    let want: Vec<String> = ["a/deep/er/three", "a/deep/two", "a/one"]
        .iter()
        .map(|p| format!("{root}/{p}"))
        .collect();
    assert_eq!(all.keys().cloned().collect::<Vec<_>>(), want);
    assert_eq!(
        all[&format!("{root}/a/one")].expose(),
        br#"{"name":"a/one"}"#
    );
    let by_name = v2
        .get_all_secrets(&FindRef {
            path: Some(root.clone()),
            name_regexp: Some("t[wh]".into()),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.len(), 2, "{:?}", by_name.keys());
    let by_tag = v2
        .get_all_secrets(&FindRef {
            path: Some(root.clone()),
            tags: [("team".to_owned(), "a".to_owned())].into(),
            ..FindRef::default()
        })
        .await
        .unwrap();
    let want: Vec<String> = ["a/deep/er/three", "a/one", "b/four"]
        .iter()
        .map(|p| format!("{root}/{p}"))
        .collect();
    assert_eq!(by_tag.keys().cloned().collect::<Vec<_>>(), want);
    let none = v2
        .get_all_secrets(&FindRef {
            path: Some(format!("{root}/zzz")),
            ..FindRef::default()
        })
        .await
        .unwrap_err();
    assert_eq!(none, ProviderError::NotFound);
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_header_selects_the_openbao_namespace() {
    let e = env("vault-ns", true).await;
    bao(&["namespace", "create", &e.id]);
    let ns_flag = format!("-namespace={}", e.id);
    bao(&[
        "secrets",
        "enable",
        &ns_flag,
        "-path=kv",
        "-version=2",
        "kv",
    ]);
    bao(&["kv", "put", &ns_flag, "kv/app", "user=in-namespace"]);
    e.secret("root", "token", ground().vault_token()).await;
    let auth = json!({"tokenSecretRef": {"name": "root", "key": "token"}});
    let config = json!({"server": e.server(), "path": "kv", "namespace": e.id, "auth": auth});
    let c = e.client(config).await.unwrap();
    assert_eq!(text(&*c, &prop("app", "user")).await, "in-namespace");
    let outside = e
        .client(json!({"server": e.server(), "path": "kv", "auth": auth}))
        .await
        .unwrap();
    // Without the header the root namespace has no `kv` mount.
    let err = outside.get_secret(&prop("app", "user")).await.unwrap_err();
    assert_eq!(err, ProviderError::NotFound);
    bao(&["namespace", "delete", &e.id]);
    ground().drop_namespace(&e.ns).await;
}
