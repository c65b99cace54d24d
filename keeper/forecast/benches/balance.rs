//! Load-balancing benchmark (not a test): 1M tasks over 10k validators, batch assignment against
//! round-robin and plain greedy. Run: `cargo bench -p flex-forecast --bench balance` (or the built
//! binary under target/release/deps). Arguments: [TASKS] [VALIDATORS].

use std::time::Instant;

use flex_forecast::balance::{batch, greedy, lpt, round_robin, Problem};
use flex_forecast::rng::Rng;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let m = args.get(1).copied().unwrap_or(10_000);
    let mut rng = Rng::new(2024);
    // Complexities log-normal (median 10, sigma 1), performances uniform in [0.5, 2), window 3600.
    let c: Vec<f64> = (0..n).map(|_| 10.0 * rng.normal().exp()).collect();
    let p: Vec<f64> = (0..m).map(|_| rng.range(0.5, 2.0)).collect();
    let pr = Problem {
        complexity: &c,
        performance: &p,
        capacity: None,
        window: 3600.0,
    };
    println!("{n} tasks, {m} validators, lower bound {:.6e}", pr.lower_bound());
    let run = |name: &str, f: &dyn Fn() -> flex_forecast::balance::Assignment| {
        let t = Instant::now();
        let a = f();
        let secs = t.elapsed().as_secs_f64();
        let s = a.stats(&pr);
        println!(
            "{name:<12} {secs:>7.3} s  variance {:.4e}  max/mean {:.5}  max/LB {:.5}",
            s.variance, s.max_over_mean, s.max_over_lower_bound
        );
        s
    };
    let fail = |e| panic!("{e}");
    let rr = run("round_robin", &|| round_robin(&pr).unwrap_or_else(fail));
    let g = run("greedy", &|| greedy(&pr).unwrap_or_else(fail));
    run("lpt", &|| lpt(&pr).unwrap_or_else(fail));
    let b = run("batch", &|| batch(&pr, 20).unwrap_or_else(fail));
    println!(
        "batch variance: {:.3e} of round-robin's, {:.3e} of greedy's",
        b.variance / rr.variance,
        b.variance / g.variance
    );
    // Capacities: each validator at most 1.2 x its fair share of tasks by count.
    let cap: Vec<u32> = vec![(n as f64 * 1.2 / m as f64).ceil() as u32; m];
    let prc = Problem {
        capacity: Some(&cap),
        ..pr
    };
    let t = Instant::now();
    let a = batch(&prc, 20).unwrap_or_else(fail);
    let s = a.stats(&prc);
    println!(
        "batch, capacity {} tasks: {:.3} s  variance {:.4e}  max/LB {:.5}",
        cap[0],
        t.elapsed().as_secs_f64(),
        s.variance,
        s.max_over_lower_bound
    );
}
