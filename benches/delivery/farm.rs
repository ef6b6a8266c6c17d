//! The delivery bench's loopback inbox farm, run in a child process so that
//! the sender's wall time and CPU time are its own.
//!
//! The bench binary re-executes itself with [`FARM_ENV`] set; the child
//! serves `hosts` plain-HTTP and `hosts` HTTPS inboxes on 127.0.0.1 (one port
//! per host), each HTTPS host with a certificate for 127.0.0.1 issued by a
//! throw-away CA made at start. It prints its ports and the CA certificate
//! on stdout, then reads commands on stdin: `stats` answers its own CPU
//! time in microseconds, the connections it accepted and the bad
//! signatures it saw so far; end of input (the parent is done or gone)
//! ends it.
//!
//! Each host verifies the HTTP signature of one request in
//! [`VERIFY_EVERY`] (and the first) and answers 401 to a bad one; the
//! parent fails the bench when the count of bad signatures is not zero. The
//! other requests are read in full and answered 202 without verification,
//! so that the farm takes as little of the shared cores as a real remote
//! inbox would.

use std::convert::Infallible;
use std::io::{BufRead as _, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bad signatures seen by any host of the farm.
static BAD_SIGNATURES: AtomicU64 = AtomicU64::new(0);
/// Connections accepted by any host of the farm.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
use std::time::{Duration, Instant};

use archipel::signatures::{MemoryKeyResolver, PublicKey, Verifier, VerifyPolicy};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use url::Url;

/// Set (to anything) in the child's environment: run the farm only.
pub const FARM_ENV: &str = "ARCHIPEL_BENCH_DELIVERY_FARM";
/// One request in this many (per host) has its signature verified.
pub const VERIFY_EVERY: u64 = 16;

/// The parent's handle on the farm process.
pub struct Farm {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: std::io::BufReader<ChildStdout>,
    /// Ports of the plain-HTTP hosts.
    pub plain: Vec<u16>,
    /// Ports of the HTTPS hosts.
    pub tls: Vec<u16>,
    /// PEM of the CA that issued the HTTPS hosts' certificates.
    pub ca_pem: String,
}

impl Farm {
    /// Starts `hosts` plain and `hosts` HTTPS inbox hosts in a child process.
    pub fn spawn(hosts: usize) -> Farm {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(FARM_ENV, hosts.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut ports = |prefix: &str| -> Vec<u16> {
            line.clear();
            stdout.read_line(&mut line).unwrap();
            let rest = line.trim_end().strip_prefix(prefix).unwrap();
            rest.split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect()
        };
        let plain = ports("plain");
        let tls = ports("tls");
        let mut ca_pem = String::new();
        loop {
            let mut l = String::new();
            assert_ne!(stdout.read_line(&mut l).unwrap(), 0, "farm ended early");
            if l.trim_end() == "end" {
                break;
            }
            ca_pem.push_str(&l);
        }
        assert_eq!((plain.len(), tls.len()), (hosts, hosts));
        Farm {
            child,
            stdin,
            stdout,
            plain,
            tls,
            ca_pem,
        }
    }

    /// The farm process's CPU time (user + system) so far (`None` where it
    /// cannot tell) and the connections it accepted so far. Panics if the
    /// farm has seen a bad signature.
    pub fn stats(&mut self) -> (Option<Duration>, u64) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "stats").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [cpu, connections, bad] = fields[..] else {
            panic!("farm stats: {line:?}");
        };
        assert_eq!(bad, "0", "the farm saw bad signatures");
        (
            cpu.parse().ok().map(Duration::from_micros),
            connections.parse().unwrap(),
        )
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        // End of input ends the farm; kill it if it has not gone in 5 s.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of this whole process, from `getrusage`
/// (microsecond resolution); `None` where that is not available.
pub fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{UsageWho, getrusage};
        let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
        let micros = |t: nix::sys::time::TimeVal| -> Option<u64> {
            Some(u64::try_from(t.tv_sec()).ok()? * 1_000_000 + u64::try_from(t.tv_usec()).ok()?)
        };
        let total = micros(u.user_time())? + micros(u.system_time())?;
        Some(Duration::from_micros(total))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A throw-away CA (its PEM) and a rustls configuration for 127.0.0.1 with
/// a certificate it issued.
fn private_ca() -> (String, rustls::ServerConfig) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), config)
}

/// The child: serves the farm until its stdin ends. `hosts` comes from
/// [`FARM_ENV`].
pub fn serve(hosts: usize, key_id: &str, owner: &str, key: PublicKey) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, usize::from))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut keys = MemoryKeyResolver::new();
        keys.insert(key_id, key, owner);
        let verifier = Arc::new(Verifier::new(keys, VerifyPolicy::default()));
        let (ca_pem, config) = private_ca();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (mut plain, mut tls) = (Vec::new(), Vec::new());
        for _ in 0..hosts {
            plain.push(listen(None, verifier.clone()).await);
            tls.push(listen(Some(acceptor.clone()), verifier.clone()).await);
        }
        let join = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
        let mut out = std::io::stdout().lock();
        write!(
            out,
            "plain {}\ntls {}\n{ca_pem}end\n",
            join(&plain),
            join(&tls)
        )
        .unwrap();
        out.flush().unwrap();
        drop(out);
        tokio::task::spawn_blocking(|| {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if line == "stats" {
                    let micros = process_cpu().map_or("n/a".into(), |d| d.as_micros().to_string());
                    let connections = CONNECTIONS.load(Ordering::SeqCst);
                    let bad = BAD_SIGNATURES.load(Ordering::SeqCst);
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{micros} {connections} {bad}");
                    let _ = out.flush();
                }
            }
        })
        .await
        .unwrap();
    });
    // The accept loops are still running: do not wait for them.
    rt.shutdown_background();
}

struct Host {
    base: Url,
    requests: AtomicU64,
    verifier: Arc<Verifier<MemoryKeyResolver>>,
}

/// Binds one host on 127.0.0.1 (port 0), serves it in the background and
/// returns its port.
async fn listen(
    tls: Option<tokio_rustls::TlsAcceptor>,
    verifier: Arc<Verifier<MemoryKeyResolver>>,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = Arc::new(Host {
        base: Url::parse(&format!("{scheme}://127.0.0.1:{port}/")).unwrap(),
        requests: AtomicU64::new(0),
        verifier,
    });
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            let _ = tcp.set_nodelay(true);
            let host = host.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            connection(stream, host).await;
                        }
                    }
                    None => connection(tcp, host).await,
                }
            });
        }
    });
    port
}

/// Serves HTTP/1.1 (keep-alive) on one connection.
async fn connection(io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static, host: Arc<Host>) {
    let service = hyper::service::service_fn(move |req| {
        let host = host.clone();
        async move { Ok::<_, Infallible>(handle(&host, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

fn reply(status: u16) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
    resp
}

async fn handle(host: &Host, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    let n = host.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, 1 << 20).collect().await else {
        return reply(413);
    };
    if n.is_multiple_of(VERIFY_EVERY) {
        let req = http::Request::from_parts(parts, body.to_bytes());
        if let Err(e) = host.verifier.verify_with_base(&req, &host.base).await {
            eprintln!("farm {}: bad signature: {e}", host.base);
            BAD_SIGNATURES.fetch_add(1, Ordering::SeqCst);
            return reply(401);
        }
    }
    reply(202)
}
