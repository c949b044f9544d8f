//! Native helpers of the benchmark, one file, std only, compiled by bench.py
//! with `rustc -O` (no cargo, no crates). Every time is a wall time from
//! `Instant` (CLOCK_MONOTONIC), printed in nanoseconds, one sample a line.
//!
//! Subcommands:
//!   spawn-floor BOT N [setsid]   spawn N `BOT --exit` with std::process::Command,
//!                                then wait for all of them; prints the total.
//!                                `setsid` adds a pre_exec(setsid()) as a
//!                                supervisor needs (std then forks instead of
//!                                using posix_spawn).
//!   runs K -- CMD ARGS...        runs CMD K times (stdout and stderr to
//!                                /dev/null, stdin from /dev/null), prints each
//!                                run's wall time; exits 1 if a run failed.
//!   echo-server SOCKET           a Unix socket server that answers every line
//!                                with a short JSON line (the floor's peer).
//!   oneshot SOCKET LINE          connect, send LINE, read one reply line, exit:
//!                                the trivial client of the floor.
//!   rtt SOCKET K LINE            one persistent connection, K times LINE and
//!                                its one-line reply (`{id}` in LINE is replaced
//!                                by 1, 2, ...); prints each round trip and, on
//!                                stderr, the size of the last reply.
//!   rtt-http SOCKET K FILE       as rtt, for an HTTP/1.1 request in FILE (the
//!                                bytes as sent): reads each response by its
//!                                Content-Length (supervisord's XML-RPC).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

extern "C" {
    fn setsid() -> i32;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sub = args.get(1).map(String::as_str).unwrap_or("");
    match sub {
        "spawn-floor" => spawn_floor(&args[2], args[3].parse().unwrap(), args.get(4).map(String::as_str) == Some("setsid")),
        "runs" => runs(args[2].parse().unwrap(), &args[4..]),
        "echo-server" => echo_server(&args[2]),
        "oneshot" => oneshot(&args[2], &args[3]),
        "rtt" => rtt(&args[2], args[3].parse().unwrap(), &args[4]),
        "rtt-http" => rtt_http(&args[2], args[3].parse().unwrap(), &args[4]),
        _ => {
            eprintln!("usage: benchtool spawn-floor|runs|echo-server|oneshot|rtt|rtt-http ...");
            std::process::exit(2);
        }
    }
}

fn spawn_floor(bot: &str, n: usize, with_setsid: bool) {
    let start = Instant::now();
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        let mut command = Command::new(bot);
        command.arg("--exit").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if with_setsid {
            // SAFETY: setsid is async-signal-safe and allocates nothing.
            unsafe {
                command.pre_exec(|| {
                    setsid();
                    Ok(())
                });
            }
        }
        children.push(command.spawn().expect("spawn"));
    }
    for mut child in children {
        let status = child.wait().expect("wait");
        assert!(status.success());
    }
    println!("{}", start.elapsed().as_nanos());
}

fn runs(k: usize, cmd: &[String]) {
    let mut out = String::new();
    let mut failed = false;
    for _ in 0..k {
        let start = Instant::now();
        let status = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run");
        let took = start.elapsed().as_nanos();
        if !status.success() {
            failed = true;
        }
        out.push_str(&format!("{took}\n"));
    }
    print!("{out}");
    if failed {
        eprintln!("benchtool runs: a run of {:?} failed", cmd);
        std::process::exit(1);
    }
}

fn echo_server(path: &str) {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).expect("bind");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let mut writer = stream.try_clone().unwrap();
            let reader = BufReader::new(stream);
            for line in reader.lines() {
                let Ok(_line) = line else { break };
                if writer.write_all(b"{\"v\":1,\"id\":1,\"type\":\"response\",\"ok\":true}\n").is_err() {
                    break;
                }
            }
        });
    }
}

fn oneshot(path: &str, line: &str) {
    let mut stream = UnixStream::connect(path).expect("connect");
    stream.write_all(format!("{line}\n").as_bytes()).expect("write");
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).expect("read");
    if !reply.ends_with('\n') {
        std::process::exit(1);
    }
}

fn rtt(path: &str, k: usize, line: &str) {
    let stream = UnixStream::connect(path).expect("connect");
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let mut reply = Vec::with_capacity(1 << 20);
    let mut out = String::new();
    for i in 1..=k {
        let request = format!("{}\n", line.replace("{id}", &i.to_string()));
        reply.clear();
        let start = Instant::now();
        writer.write_all(request.as_bytes()).expect("write");
        reader.read_until(b'\n', &mut reply).expect("read");
        let took = start.elapsed().as_nanos();
        if reply.last() != Some(&b'\n') {
            eprintln!("benchtool rtt: connection closed");
            std::process::exit(1);
        }
        out.push_str(&format!("{took}\n"));
    }
    print!("{out}");
    eprintln!("reply_bytes={}", reply.len());
}

fn rtt_http(path: &str, k: usize, file: &str) {
    let request = std::fs::read(file).expect("request file");
    let stream = UnixStream::connect(path).expect("connect");
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let mut out = String::new();
    let mut body = Vec::new();
    for _ in 0..k {
        let start = Instant::now();
        writer.write_all(&request).expect("write");
        let mut length = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).expect("read") == 0 {
                eprintln!("benchtool rtt-http: connection closed");
                std::process::exit(1);
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().unwrap());
                }
            }
        }
        let length = length.expect("Content-Length");
        body.resize(length, 0);
        reader.read_exact(&mut body).expect("body");
        out.push_str(&format!("{}\n", start.elapsed().as_nanos()));
    }
    print!("{out}");
    eprintln!("reply_bytes={}", body.len());
}
