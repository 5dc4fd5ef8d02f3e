//! Cloud fakes a test starts for itself (moto, the GCP fake), set-up scripts against them, and a
//! relay that records what passes through it (operator_cloud.rs, plugin_aws.rs).

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Killed, free_port};

/// A server this test started, stopped when dropped.
pub struct Server {
    pub url: String,
    pub port: u16,
    _process: Killed,
}

impl Server {
    /// Starts `cmd` (told its port by `args(port)`) and waits until it listens.
    async fn start(what: &str, mut cmd: Command, args: impl Fn(&str) -> [String; 2]) -> Server {
        let port = free_port();
        let process = cmd
            .args(args(&port.to_string()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            url: format!("http://127.0.0.1:{port}"),
            port,
            _process: Killed(process),
        };
        ground::eventually(std::time::Duration::from_secs(30), what, || async move {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .await;
        server
    }
}

/// A private moto server (from the ground's Python environment), for tests that change its
/// settings (SigV4 verification) or count its calls.
pub async fn moto() -> Server {
    let g = ground::ground();
    let bin = std::path::Path::new(g.var("GROUND_PYTHON")).with_file_name("moto_server");
    let mut cmd = Command::new(bin);
    cmd.args(["-H", "127.0.0.1"]);
    Server::start("a private moto", cmd, |p| ["-p".into(), p.into()]).await
}

/// A private GCP fake (tests/ground/gcp-fake), so its token counters are this test's alone.
pub async fn gcp_fake() -> Server {
    let g = ground::ground();
    let mut cmd = g.python();
    cmd.arg(g.repo.join("tests/ground/gcp-fake/server.py"));
    Server::start("a private GCP fake", cmd, |p| ["--port".into(), p.into()]).await
}

/// Runs a Python script with `EP` (the endpoint), `P` (`key`), boto3 clients `sm`, `ssm`, `iam`
/// bound to `EP` and a GCP helper `gcp(method, path, body)`; returns its stdout.
pub fn python_with(endpoint: &str, key: &str, script: &str) -> String {
    let prelude = "import sys, json, base64, urllib.request, boto3\nEP, P = sys.argv[1], sys.argv[2]\n\
        sm = boto3.client('secretsmanager', endpoint_url=EP, region_name='us-east-1')\n\
        ssm = boto3.client('ssm', endpoint_url=EP, region_name='us-east-1')\n\
        iam = boto3.client('iam', endpoint_url=EP, region_name='us-east-1')\n\
        def gcp(method, path, body=None):\n    req = urllib.request.Request(EP + path, method=method,\n        \
        data=json.dumps(body).encode() if body is not None else None, headers={'Content-Type': 'application/json'})\n    \
        return json.load(urllib.request.urlopen(req))\n";
    ground::run_with_input(
        ground::ground()
            .python()
            .args(["-", endpoint, key])
            .env("AWS_ACCESS_KEY_ID", "ground")
            .env("AWS_SECRET_ACCESS_KEY", "ground-secret"),
        format!("{prelude}{script}").as_bytes(),
    )
}

/// [`python_with`] without a key.
pub fn python(endpoint: &str, script: &str) -> String {
    python_with(endpoint, "", script)
}

/// What one client connection sent.
type Sent = Arc<Mutex<Vec<u8>>>;

/// A TCP relay to a loopback port that keeps what clients sent through it, per connection.
pub struct Relay {
    pub port: u16,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let all = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let buf: Sent = Arc::default();
                all.lock().unwrap().push(buf.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let up = async {
                        let mut chunk = vec![0u8; 65536];
                        while let Ok(n) = ri.read(&mut chunk).await {
                            if n == 0 {
                                break;
                            }
                            buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                            if wo.write_all(&chunk[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = wo.shutdown().await;
                    };
                    let down = tokio::io::copy(&mut ro, &mut wi);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Relay { port, sent }
    }

    /// Everything clients sent, one string per connection.
    pub fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
            .collect()
    }

    /// How many requests carried `marker` (e.g. `Action=AssumeRoleWithWebIdentity`).
    pub fn count(&self, marker: &str) -> usize {
        self.sent().iter().map(|s| s.matches(marker).count()).sum()
    }
}
