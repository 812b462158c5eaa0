//! Prints this machine's argon2id verify rate with the default (OWASP) parameters, on one
//! thread and on every core: `cargo run --release --example argon2_rate`. Used by
//! `bench/run.sh` to put the password-grant numbers next to what the hardware allows.

use std::time::{Duration, Instant};

use portcullis::config::Argon2Settings;
use portcullis::core::password;

fn rate(threads: usize, settings: &Argon2Settings, hash: &str) -> f64 {
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (s, h) = (settings.clone(), hash.to_owned());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < window {
                    assert!(password::verify(&s, "benchmark password", &h));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let settings = Argon2Settings::default();
    let hash = password::hash(&settings, "benchmark password").unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let one = rate(1, &settings, &hash);
    let all = rate(cores, &settings, &hash);
    println!("{{\"one_core\": {one:.1}, \"all_cores\": {all:.1}, \"cores\": {cores}}}");
}
