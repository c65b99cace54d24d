use proptest::prelude::*;

use super::*;

fn problem<'a>(c: &'a [f64], p: &'a [f64], cap: Option<&'a [u32]>) -> Problem<'a> {
    Problem {
        complexity: c,
        performance: p,
        capacity: cap,
        window: 2.0,
    }
}

fn check_valid(p: &Problem<'_>, a: &Assignment) {
    assert_eq!(
        a.of_task.len(),
        p.complexity.len(),
        "every task assigned exactly once"
    );
    assert!(a.of_task.iter().all(|&v| (v as usize) < p.performance.len()));
    if let Some(cap) = p.capacity {
        for (v, n) in a.counts(p.performance.len()).into_iter().enumerate() {
            assert!(n <= cap[v], "validator {v}: {n} tasks, capacity {}", cap[v]);
        }
    }
    let again = Assignment::recompute(p, a.of_task.clone());
    for (x, y) in again.load.iter().zip(&a.load) {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0));
    }
}

#[test]
fn hand_example() {
    // T = 2, P = (1, 2), C = (4, 2, 2). Every split, as loads (v0, v1): {2}/{4,2} gives (1, 1.5),
    // variance 0.0625; {2,2}/{4} gives (2, 1), 0.25; {4}/{2,2} gives (2, 1), 0.25; {4,2}/{2} gives
    // (3, 0.5); all on one side is worse. LPT finds (1, 1.5): 4 -> v1 (1 < 2), 2 -> v0 (1 < 1.5),
    // 2 -> v1 (1.5 < 2).
    let c = [4.0, 2.0, 2.0];
    let p = [1.0, 2.0];
    let pr = problem(&c, &p, None);
    let a = batch(&pr, 10).unwrap();
    check_valid(&pr, &a);
    assert_eq!(a.load, vec![1.0, 1.5]);
    // LB = max(8 / (2 * 3), 4 / (2 * 2)) = 4/3.
    assert!((pr.lower_bound() - 4.0 / 3.0).abs() < 1e-15);
    let s = a.stats(&pr);
    assert!((s.variance - 0.0625).abs() < 1e-15);
}

#[test]
fn capacity_and_errors() {
    let c = [5.0, 1.0, 1.0, 1.0];
    let p = [1.0, 1.0];
    let cap = [1u32, 3];
    let pr = problem(&c, &p, Some(&cap));
    for a in [
        batch(&pr, 10).unwrap(),
        greedy(&pr).unwrap(),
        round_robin(&pr).unwrap(),
        lpt(&pr).unwrap(),
    ] {
        check_valid(&pr, &a);
    }
    let tight = [1u32, 2];
    let e = batch(&problem(&c, &p, Some(&tight)), 10).unwrap_err().to_string();
    assert!(e.contains("hold 3 tasks"), "{e}");
    let e = batch(&problem(&[1.0, f64::NAN], &p, None), 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("task #1"), "{e}");
    let e = batch(&problem(&c, &[1.0, 0.0], None), 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("validator #1"), "{e}");
}

#[test]
fn online_matches_greedy() {
    let c: Vec<f64> = (0..200).map(|i| ((i * 37) % 11 + 1) as f64).collect();
    let p = [1.0, 1.5, 0.5, 2.0, 1.0];
    let pr = problem(&c, &p, None);
    let mut on = Online::new(pr).unwrap();
    let picks: Vec<u32> = c.iter().map(|&x| on.assign(x).unwrap()).collect();
    assert_eq!(picks, greedy(&pr).unwrap().of_task);
}

#[test]
fn many_distinct_performances_use_classes() {
    let p: Vec<f64> = (0..1000).map(|i| 0.5 + i as f64 * 0.0015).collect();
    let c: Vec<f64> = (0..20000).map(|i| ((i * 7919) % 997 + 1) as f64).collect();
    let pr = problem(&c, &p, None);
    let a = batch(&pr, 50).unwrap();
    check_valid(&pr, &a);
    let s = a.stats(&pr);
    assert!(s.max_over_lower_bound < 1.01, "{s:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn invariants(
        c in prop::collection::vec(0.0f64..100.0, 0..120),
        p in prop::collection::vec(0.1f64..5.0, 1..12),
        caps in prop::collection::vec(0u32..40, 12),
        use_cap in any::<bool>(),
    ) {
        let mut cap: Vec<u32> = caps[..p.len()].to_vec();
        // Make capacities feasible.
        let total: u32 = cap.iter().sum();
        if (total as usize) < c.len() {
            cap[0] += c.len() as u32 - total;
        }
        let pr = problem(&c, &p, use_cap.then_some(&cap[..]));
        let b = batch(&pr, 100).unwrap();
        check_valid(&pr, &b);
        let g = greedy(&pr).unwrap();
        let l = lpt(&pr).unwrap();
        check_valid(&pr, &g);
        check_valid(&pr, &l);
        check_valid(&pr, &round_robin(&pr).unwrap());
        let vb = b.stats(&pr).variance;
        let eps = 1e-9 * (1.0 + vb);
        prop_assert!(vb <= g.stats(&pr).variance + eps, "batch {} > greedy {}", vb, g.stats(&pr).variance);
        prop_assert!(vb <= l.stats(&pr).variance + eps);
        prop_assert!(b.stats(&pr).max >= pr.lower_bound() * (1.0 - 1e-12));
    }
}
