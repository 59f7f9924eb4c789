//! A stand-in agent for tests: `raw-sink OUT [ARG...]` writes its arguments to
//! `OUT.args`, puts its terminal in raw mode with bracketed paste on, says READY, then
//! appends every byte it reads to OUT, exactly as read.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().expect("usage: raw-sink OUT [ARG...]");
    let rest: Vec<String> = args.collect();
    std::fs::write(format!("{out}.args"), rest.join("\n")).unwrap();
    let status = Command::new("stty")
        .args(["raw", "-echo"])
        .stdin(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success(), "stty failed");
    let mut stdout = std::io::stdout();
    stdout.write_all(b"\x1b[?2004hREADY\r\n").unwrap();
    stdout.flush().unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .unwrap();
    let mut buf = [0u8; 65536];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                file.write_all(&buf[..n]).unwrap();
                file.flush().unwrap();
            }
        }
    }
}
