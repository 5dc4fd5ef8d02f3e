//! A TLS OpenBao of the test's own (`bao server -dev -dev-tls` on an ephemeral loopback port,
//! killed by PID on drop) and client certificates made with the `openssl` CLI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ground::{ground, run, run_with_input};
use serde_json::Value;

pub struct TlsBao {
    pub port: u16,
    pub dir: PathBuf,
    pub root: String,
    child: Child,
}

impl Drop for TlsBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl TlsBao {
    /// Starts the server and waits until it answers over TLS with its own CA.
    pub fn start(id: &str) -> TlsBao {
        let dir = std::env::temp_dir().join(format!("ampoule-tls-bao-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let root = format!("root-{id}");
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = ground()
            .command("bao")
            .args([
                "server",
                "-dev",
                "-dev-tls",
                &format!("-dev-tls-cert-dir={}", dir.display()),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
                &format!("-dev-root-token-id={root}"),
            ])
            .env("HOME", &dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let bao = TlsBao {
            port,
            dir,
            root,
            child,
        };
        let started = Instant::now();
        loop {
            let ready = bao.dir.join("vault-ca.pem").is_file()
                && bao
                    .command()
                    .args(["status"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ready {
                return bao;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "TLS OpenBao did not come up: {}",
                std::fs::read_to_string(bao.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn addr(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The CA the dev server signed its certificate with.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("vault-ca.pem")).unwrap()
    }

    /// `bao` against this server, as root.
    pub fn command(&self) -> Command {
        let mut cmd = ground().command("bao");
        cmd.env("VAULT_ADDR", self.addr())
            .env("VAULT_TOKEN", &self.root)
            .env("VAULT_CACERT", self.dir.join("vault-ca.pem"))
            .env("HOME", &self.dir);
        cmd
    }

    pub fn bao(&self, args: &[&str]) -> String {
        run(self.command().args(args))
    }

    /// `bao write -format=json PATH -` with a JSON body on stdin.
    pub fn write(&self, path: &str, body: Value) -> String {
        run_with_input(
            self.command().args(["write", "-format=json", path, "-"]),
            body.to_string().as_bytes(),
        )
    }

    /// Accessors of the live tokens issued by a login at `auth/<mount>/login`.
    pub fn logins_at(&self, mount: &str) -> usize {
        let list: Vec<String> =
            serde_json::from_str(&self.bao(&["list", "-format=json", "auth/token/accessors"]))
                .unwrap();
        list.iter()
            .filter(|a| {
                let out = self.bao(&[
                    "write",
                    "-format=json",
                    "auth/token/lookup-accessor",
                    &format!("accessor={a}"),
                ]);
                let v: Value = serde_json::from_str(&out).unwrap();
                v["data"]["path"] == Value::String(format!("auth/{mount}/login"))
            })
            .count()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a client certificate it signed (P-256, clientAuth), as PEM.
pub struct ClientPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientPki {
    pub fn new(dir: &Path, name: &str) -> ClientPki {
        let dir = dir.join(format!("pki-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec![
            "req", "-x509", "-days", "1", "-keyout", "ca.key", "-out", "ca.pem",
        ];
        ca.extend(ec);
        let subject = format!("/CN={name}-client-ca");
        ca.extend([
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&dir, &ca);
        let mut csr = vec!["req", "-keyout", "client.key", "-out", "client.csr"];
        csr.extend(ec);
        let subject = format!("/CN={name}-client");
        csr.extend(["-subj", &subject]);
        openssl(&dir, &csr);
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "ext.cnf",
                "-out",
                "client.pem",
            ],
        );
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        ClientPki {
            ca_pem: read("ca.pem"),
            cert_pem: read("client.pem"),
            key_pem: read("client.key"),
        }
    }
}
