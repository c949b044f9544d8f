//! Helpers for the tests of intelmq-api against intelmqd's intelmqctl
//! (`tests/intelmq_api.rs`): intelmq-api served by uvicorn from the venv of
//! `.ci/intelmq-setup.sh`, configured to call the workspace's `intelmqctl` on
//! a test daemon's socket, and a minimal HTTP client to call it.
//!
//! The client is plain HTTP/1.1 over `std::net::TcpStream`, one request per
//! connection, rather than a crate: ureq 3 needs Rust 1.85 (the workspace
//! builds with 1.80), ureq 2 brings the `url`/`idna` stack of about a hundred
//! crates into every build, and the tests only send a GET or a POST to a
//! server on loopback that answers with a `Content-Length` body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::intelmq_helpers::free_port;
use crate::{bin, poll_until, Daemon, TIMEOUT};

/// How long uvicorn may take to import intelmq-api (with IntelMQ, FastAPI and
/// pydantic) and answer: several seconds on a loaded two-core machine.
pub const API_START_TIMEOUT: Duration = Duration::from_secs(60);

/// intelmq-api served by the venv's uvicorn on a free loopback port, its
/// configuration, `INTELMQ_ROOT_DIR` and log in a temporary directory of its
/// own. Dropping it kills uvicorn (the daemon's bots are the [`Daemon`]'s).
pub struct IntelmqApi {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    port: u16,
    /// IntelMQ's root for the API process (`INTELMQ_ROOT_DIR`).
    pub intelmq_root: PathBuf,
    log_path: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl IntelmqApi {
    /// Writes the API's configuration, calling
    /// `intelmqctl --socket <daemon's socket>`, starts uvicorn and waits until
    /// the API answers and has said that it loaded that configuration (a path
    /// it cannot load makes it fall back to a packaged default silently).
    pub fn start(venv: &Path, daemon: &Daemon) -> IntelmqApi {
        let uvicorn = venv.join("bin/uvicorn");
        assert!(
            uvicorn.is_file(),
            "{} is missing: run .ci/intelmq-setup.sh (it installs intelmq-api)",
            uvicorn.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("imq-api-")
            .tempdir_in("/tmp")
            .expect("a temporary directory under /tmp");
        // Never the daemon's config dir: importing intelmq renames a lone
        // runtime.conf in `<INTELMQ_ROOT_DIR>/etc` to runtime.yaml.
        let intelmq_root = dir.path().join("intelmq-root");
        let allowed_path = intelmq_root.join("var/lib/bots");
        std::fs::create_dir_all(&allowed_path).expect("create the API's allowed_path");
        let config_path = dir.path().join("api-config.json");
        let config = json!({
            "intelmq_ctl_cmd": [bin("intelmqctl"), "--socket", daemon.socket],
            "allowed_path": format!("{}/", allowed_path.display()),
            "allow_origins": ["*"],
        });
        std::fs::write(&config_path, config.to_string()).expect("write the API's configuration");

        let log_path = dir.path().join("uvicorn.log");
        let log = std::fs::File::create(&log_path).expect("create uvicorn.log");
        let port = free_port();
        let mut command = Command::new(&uvicorn);
        command
            .args(["intelmq_api.main:app", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .current_dir(dir.path());
        // The test's own INTELMQ_* variables would reach intelmqctl through
        // the API (it passes its environment on): only the test's are set.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("INTELMQ_") {
                command.env_remove(key);
            }
        }
        let child = command
            .env("INTELMQ_API_CONFIG", &config_path)
            .env("INTELMQ_ROOT_DIR", &intelmq_root)
            // The API says which configuration it loaded with print(): make
            // that reach the log at once.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", uvicorn.display()));
        let mut api = IntelmqApi {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            intelmq_root,
            log_path,
            child,
            _dir: dir,
        };

        let mut exited = None;
        let ready = poll_until(API_START_TIMEOUT, || {
            exited = api.child.try_wait().ok().flatten();
            exited.is_some()
                || api
                    .try_get("/openapi.json")
                    .is_some_and(|r| r.status == 200)
        });
        if let Some(status) = exited {
            panic!(
                "uvicorn exited at start with {status}\n{}",
                api.log_report()
            );
        }
        if ready.is_err() {
            panic!(
                "intelmq-api did not answer on port {port} within {API_START_TIMEOUT:?}\n{}",
                api.log_report()
            );
        }
        let loaded = format!("Loading config from {}", config_path.display());
        assert!(
            api.log().contains(&loaded),
            "intelmq-api did not load {}\n{}",
            config_path.display(),
            api.log_report()
        );
        api
    }

    /// `GET <path>` (path and query, e.g. `/v1/api/bot?action=status&id=x`).
    #[track_caller]
    pub fn get(&self, path: &str) -> HttpResponse {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} got no HTTP answer\n{}", self.log_report()))
    }

    /// `POST <path>` with a JSON body.
    #[track_caller]
    pub fn post_json(&self, path: &str, body: &Value) -> HttpResponse {
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        self.exchange(&request)
            .unwrap_or_else(|| panic!("POST {path} got no HTTP answer\n{}", self.log_report()))
    }

    fn try_get(&self, path: &str) -> Option<HttpResponse> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        self.exchange(&request)
    }

    /// Sends one request and reads the answer to the end of the connection
    /// (`Connection: close`); `None` when nothing answered.
    fn exchange(&self, request: &str) -> Option<HttpResponse> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        // Bot actions are answered once intelmqctl is done with them.
        stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).ok()?;
        HttpResponse::parse(&String::from_utf8_lossy(&bytes))
    }

    /// Everything uvicorn and intelmq-api wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn log_report(&self) -> String {
        format!(
            "--- intelmq-api log (last 40 lines of {}) ---\n{}",
            self.log_path.display(),
            crate::tail(&self.log_path, 40)
        )
    }
}

impl Drop for IntelmqApi {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_report());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: its status code and its body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

impl HttpResponse {
    /// Splits `HTTP/1.1 200 OK\r\n<headers>\r\n\r\n<body>`; `None` for
    /// anything else. A chunked body is refused: the API's answers carry a
    /// `Content-Length`, and a chunked one would be read wrongly.
    fn parse(text: &str) -> Option<HttpResponse> {
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()?
            .strip_prefix("HTTP/1.1 ")?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        let chunked = lines.any(|line| {
            line.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        assert!(!chunked, "a chunked HTTP answer is not handled:\n{text}");
        Some(HttpResponse {
            status,
            body: body.to_string(),
        })
    }

    /// The body parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| {
            panic!(
                "HTTP {} body is not JSON: {error}\n{}",
                self.status, self.body
            )
        })
    }

    /// The body as JSON, after checking that the status is 200.
    #[track_caller]
    pub fn ok_json(&self) -> Value {
        assert_eq!(self.status, 200, "HTTP status, body: {}", self.body);
        self.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let answer = HttpResponse::parse(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 9\r\n\r\n{\"a\": 1}\n",
        )
        .expect("an answer");
        assert_eq!(answer.status, 500);
        assert_eq!(answer.json(), json!({"a": 1}));
        assert!(HttpResponse::parse("garbage").is_none());
        assert!(HttpResponse::parse("").is_none());
    }
}
