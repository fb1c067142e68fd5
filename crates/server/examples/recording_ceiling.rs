//! Screen-recording ceilings for `bench/screen.sh`: the same chunk files the server ingested
//! (`{sessionId, events}` JSON), measured in this process without HTTP or the store: (1) the
//! plain cost, parse into a JSON tree + serialize + gzip; (2) what the server does, the
//! streaming mask + derive + gzip of `services::recording::process`, the derivation state
//! carried from chunk to chunk. Prints MB/s of JSON and each phase's peak RSS.
//! Usage: `recording_ceiling CHUNK.json…`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use openscouter_server::services::recording::process;
use openscouter_server::services::rrweb::Tape;

/// Peak RSS so far (KiB), then reset (Linux: writing 5 to clear_refs resets VmHWM).
fn peak_rss_kib_and_reset() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    kib
}

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let mut total = 0usize;
    peak_rss_kib_and_reset();

    let t = Instant::now();
    let mut out_bytes = 0usize;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        total += bytes.len();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        serde_json::to_writer(&mut gz, &v["events"]).unwrap();
        gz.flush().unwrap();
        out_bytes += gz.finish().unwrap().len();
    }
    let plain = t.elapsed().as_secs_f64();
    let plain_rss = peak_rss_kib_and_reset();
    let mb = total as f64 / 1e6;
    println!(
        "plain parse + serialize + gzip: {mb:.1} MB in {plain:.2} s = {:.1} MB/s, {:.1} MB stored, peak RSS {} MiB",
        mb / plain,
        out_bytes as f64 / 1e6,
        plain_rss / 1024
    );

    let t = Instant::now();
    let mut tape = Tape::new();
    let (mut stored, mut derived, mut state_bytes) = (0usize, 0usize, 0usize);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let p = process(&bytes, tape, None).unwrap();
        stored += p.data.len();
        derived += p.derived.len();
        // The state the server keeps between chunks, serialized as it stores it.
        state_bytes = serde_json::to_vec(&p.tape).unwrap().len();
        tape = p.tape;
    }
    let ours = t.elapsed().as_secs_f64();
    let ours_rss = peak_rss_kib_and_reset();
    println!(
        "mask + derive + gzip (process): {mb:.1} MB in {ours:.2} s = {:.1} MB/s, {:.1} MB stored, {derived} events derived, \
         state {:.0} KB, peak RSS {} MiB; {:.2}x the plain cost",
        mb / ours,
        stored as f64 / 1e6,
        state_bytes as f64 / 1e3,
        ours_rss / 1024,
        ours / plain
    );
}
