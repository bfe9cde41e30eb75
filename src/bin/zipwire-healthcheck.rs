//! `zipwire-healthcheck`: exits 0 when the local Zipwire answers `GET /health` with 200,
//! else 1. For container health checks in images without curl or wget; std only, so it
//! adds little to the image.
//!
//! Reads `QUERY_PORT` (default 9411) like the server; the first argument, when given,
//! overrides it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let port = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("QUERY_PORT").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "9411".into());
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("invalid port {port}");
        return ExitCode::FAILURE;
    };
    match check(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn check(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status = status_line.split_whitespace().nth(1).unwrap_or("none");
    if status == "200" {
        Ok(())
    } else {
        Err(format!("/health answered {status}"))
    }
}
