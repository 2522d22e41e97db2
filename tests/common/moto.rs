//! One moto server per test binary, on 127.0.0.1, killed when the test process exits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::emulator::{free_port, serve};

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The emulator's base URL, starting it on first use.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(start)
}

fn moto_server_path() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    super::root().join(".venv/moto/bin/moto_server")
}

fn start() -> String {
    let path = moto_server_path();
    assert!(
        path.exists(),
        "moto server not found at {}: run `make venv` (or set MOTO_SERVER)",
        path.display()
    );
    let port = free_port();
    let mut command = Command::new(&path);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stderr(Stdio::null());
    let endpoint = serve("moto", command, port);
    // Keep task status where the test put it: by default every DescribeTasks advances it one step.
    raw_request(
        &endpoint,
        "POST",
        "/moto-api/state-manager/set-transition",
        &[],
        r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#,
    );
    endpoint
}

/// A plain HTTP/1.1 request to the emulator; returns the response body.
pub fn raw_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect to moto");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write to moto");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read from moto");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    assert!(
        status.starts_with('2'),
        "moto answered {method} {path} with {head}\n{body}"
    );
    body.to_owned()
}

/// An EC2 query API call (moto routes it by the credential scope; signatures are not checked).
pub fn ec2_query(action: &str) -> String {
    ec2_query_as("test", "us-east-1", action)
}

/// The same in the account these credentials map to (moto maps an assumed role's access key to
/// the role's account) and in `region`.
pub fn ec2_query_as(access_key: &str, region: &str, action: &str) -> String {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0"
    );
    raw_request(
        endpoint(),
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &authorization),
        ],
        &format!("Action={action}&Version=2016-11-15"),
    )
}

/// The first value of `<tag>…</tag>` in an XML answer.
pub fn first_xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}
