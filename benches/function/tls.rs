//! A local TLS front: HTTPS with keep-alive on 127.0.0.1 in front of the fault proxy, so the
//! function pays for TLS as it does on AWS (handshakes, and encryption of every request). The
//! throwaway certificate comes from the `openssl` command (Debian's `openssl` package), which
//! avoids a certificate-generating crate; the server is rustls + tokio-rustls, already in the
//! SDK's dependency tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A CA the function trusts (`SSL_CERT_FILE`), and a certificate for 127.0.0.1 it signed.
pub struct Certificates {
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes a P-256 CA and a leaf for IP 127.0.0.1 into `dir` (webpki refuses a self-signed leaf,
/// hence the two). Valid two days: they are made afresh for every run.
pub fn certificates(dir: &Path) -> Certificates {
    std::fs::create_dir_all(dir).expect("certificate directory");
    let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let ca = format!("req -x509 -days 2 -subj /CN=bench-CA {new_key} -keyout ca.key -out ca.pem");
    let csr = format!("req -subj /CN=127.0.0.1 {new_key} -keyout key.pem -out leaf.csr");
    let sign = "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile leaf.ext -out cert.pem";
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("leaf extensions");
    for command in [ca.as_str(), csr.as_str(), sign] {
        openssl(dir, &command.split_whitespace().collect::<Vec<_>>());
    }
    Certificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

/// The front: every TLS connection is decrypted and piped to one plain connection to `upstream`
/// (the proxy keeps it alive, as AWS keeps the function's connections).
#[derive(Clone)]
pub struct TlsFront {
    /// `https://127.0.0.1:<port>`: the endpoint to give the function.
    pub endpoint: String,
    handshakes: Arc<AtomicUsize>,
}

impl TlsFront {
    pub async fn start(upstream: &str, certificates: &Certificates) -> Self {
        let chain = CertificateDer::pem_file_iter(&certificates.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .expect("certificate");
        let key = PrivateKeyDer::from_pem_file(&certificates.key).expect("private key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind TLS front");
        let endpoint = format!("https://{}", listener.local_addr().expect("front address"));
        let front = Self {
            endpoint,
            handshakes: Arc::default(),
        };
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let handshakes = front.handshakes.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, upstream, handshakes) =
                    (acceptor.clone(), upstream.clone(), handshakes.clone());
                tokio::spawn(async move { relay(stream, acceptor, &upstream, &handshakes).await });
            }
        });
        front
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

async fn relay(stream: TcpStream, acceptor: TlsAcceptor, upstream: &str, handshakes: &AtomicUsize) {
    // Small writes must not wait for a delayed ACK (40 ms on Linux), on either side.
    let _ = stream.set_nodelay(true);
    let Ok(mut tls) = acceptor.accept(stream).await else {
        return;
    };
    handshakes.fetch_add(1, Ordering::SeqCst);
    let Ok(mut plain) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = plain.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
}
