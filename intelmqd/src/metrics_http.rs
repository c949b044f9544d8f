//! Serving the metrics over HTTP on a loopback address, for a Prometheus
//! scrape: `GET /metrics` answers the same text as `intelmqctl metrics`. Only
//! loopback addresses are accepted: the control socket, with its permission
//! check, stays the way to act on bots.

use std::net::SocketAddr;
use std::time::Duration;

use intelmqd_proto::{Answers, Command, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::supervisor::SupervisorHandle;

/// How long a scraper may take to send its request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_HEAD: usize = 8192;

/// Checks that `address` is a loopback address.
pub fn check_address(address: SocketAddr) -> Result<SocketAddr, String> {
    if address.ip().is_loopback() {
        Ok(address)
    } else {
        Err(format!(
            "--metrics-address {address} is not a loopback address; use 127.0.0.1:PORT or [::1]:PORT"
        ))
    }
}

/// Serves `GET /metrics` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    supervisor: SupervisorHandle,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("metrics: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let supervisor = supervisor.clone();
        tracker.spawn(async move {
            if let Err(error) = answer(stream, &supervisor).await {
                tracing::debug!("metrics: {error}");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, supervisor: &SupervisorHandle) -> std::io::Result<()> {
    let head = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => return respond(&mut stream, "408 Request Timeout", "request timeout\n").await,
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some("/metrics")) => {
            let response = supervisor
                .request(Command::Metrics, Answers::Default, None)
                .await;
            match response.result {
                Some(Outcome::Metrics { text }) => respond(&mut stream, "200 OK", &text).await,
                _ => respond(&mut stream, "500 Internal Server Error", "no metrics\n").await,
            }
        }
        (Some("GET"), Some(_)) => {
            respond(&mut stream, "404 Not Found", "only /metrics is here\n").await
        }
        _ => respond(&mut stream, "405 Method Not Allowed", "only GET /metrics\n").await,
    }
}

/// Reads up to the blank line that ends a request head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() + read > MAX_HEAD {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(check_address("127.0.0.1:9100".parse().unwrap()).is_ok());
        assert!(check_address("[::1]:9100".parse().unwrap()).is_ok());
        let refused = check_address("0.0.0.0:9100".parse().unwrap()).unwrap_err();
        assert!(refused.contains("not a loopback"), "{refused}");
    }
}
