//! Measures what one Argon2id password hash costs on this machine, to keep the
//! number in `password`'s documentation honest:
//! `cargo run --release -p sightline-store --example hash_cost`.

use std::time::Instant;

use sightline_store::password;

fn main() -> Result<(), sightline_store::StoreError> {
    const RUNS: usize = 30;
    let secret = password::generate()?;
    let mut hash_ms = Vec::with_capacity(RUNS);
    let mut verify_ms = Vec::with_capacity(RUNS);
    let mut dummy_ms = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let phc = password::hash(secret.expose())?;
        hash_ms.push(start.elapsed().as_secs_f64() * 1e3);

        let start = Instant::now();
        assert!(password::verify(&phc, secret.expose()));
        verify_ms.push(start.elapsed().as_secs_f64() * 1e3);

        let start = Instant::now();
        password::verify_dummy(secret.expose());
        dummy_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    for (what, times) in [
        ("hash", &mut hash_ms),
        ("verify", &mut verify_ms),
        ("verify_dummy", &mut dummy_ms),
    ] {
        times.sort_by(f64::total_cmp);
        println!(
            "{what:>12}: median {:.1} ms, min {:.1} ms, max {:.1} ms ({RUNS} runs)",
            times[RUNS / 2],
            times[0],
            times[RUNS - 1]
        );
    }
    Ok(())
}
