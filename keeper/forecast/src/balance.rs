//! Validator load balancing (SPEC 8): validator `v`'s load is
//! `L(v) = (1/T) * sum over tasks t assigned to v of C(t) / P(v)`, and assignment minimises the
//! variance of `L` across validators. Placing task `t` on `v` adds `C(t) / (T * P(v))` to `L(v)`.
//!
//! * [`greedy`] ("plain greedy", also the online rule, [`Online`]): tasks in arrival order, each
//!   onto the validator whose load after taking it is least.
//! * [`batch`]: the same rule over tasks by decreasing complexity (LPT for validators of unequal
//!   speed), started instead from plain greedy if that is better, then local search: validators
//!   are paired most-loaded with least-loaded and the single move or swap that most lowers the
//!   variance is applied, round after round, until none helps. Every accepted step lowers the
//!   variance, so the result is never worse than either greedy.
//! * [`round_robin`]: task `i` to validator `i mod m` (skipping full ones), for comparison.
//!
//! Capacity, when given, is the most tasks a validator may take. Candidate search groups
//! validators by performance: exactly by value when there are at most [`MAX_CLASSES`] distinct
//! values, else into geometric classes of ratio `r = (Pmax/Pmin)^(1/MAX_CLASSES)`; within a class
//! the least-loaded validator is the candidate, so a choice is optimal up to `(r - 1)` times the
//! task's own load.
//!
//! Lower bound ("fluid"): `LB = max(sum C / (T * sum P), max C / (T * max P))`. The first term is
//! the load every validator would have if tasks could be split freely in proportion to `P`; no
//! assignment has a maximum load below it because the `P`-weighted mean of `L` equals it whatever
//! the assignment: `sum_v P(v) L(v) / sum P = sum C / (T sum P)`. The second holds because the
//! largest task costs at least `max C / (T max P)` wherever it goes. Capacities only raise the
//! true optimum, so `LB` stays a lower bound with them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ForecastError;

/// Most performance classes the candidate search scans per task.
pub const MAX_CLASSES: usize = 128;

/// The inputs: complexities, performances, optional task-count capacities, and the window.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    pub complexity: &'a [f64],
    pub performance: &'a [f64],
    pub capacity: Option<&'a [u32]>,
    pub window: f64,
}

impl Problem<'_> {
    /// Checks every input and that the capacities can hold every task.
    pub fn validate(&self) -> Result<(), ForecastError> {
        if !(self.window > 0.0 && self.window.is_finite()) {
            return Err(ForecastError::Config(format!(
                "window T = {} must be positive",
                self.window
            )));
        }
        if self.performance.is_empty() {
            return Err(ForecastError::Config("no validators".into()));
        }
        if u32::try_from(self.complexity.len()).is_err() || u32::try_from(self.performance.len()).is_err() {
            return Err(ForecastError::Config(
                "more than 2^32 - 1 tasks or validators".into(),
            ));
        }
        for (i, &c) in self.complexity.iter().enumerate() {
            if !(c >= 0.0 && c.is_finite()) {
                return Err(ForecastError::Input {
                    what: "task",
                    index: i,
                    message: format!("complexity {c}"),
                });
            }
        }
        for (i, &p) in self.performance.iter().enumerate() {
            if !(p > 0.0 && p.is_finite()) {
                let message = format!("performance {p} must be positive");
                return Err(ForecastError::Input {
                    what: "validator",
                    index: i,
                    message,
                });
            }
        }
        if let Some(cap) = self.capacity {
            if cap.len() != self.performance.len() {
                return Err(ForecastError::Config(format!(
                    "{} capacities for {} validators",
                    cap.len(),
                    self.performance.len()
                )));
            }
            let total: u64 = cap.iter().map(|&c| u64::from(c)).sum();
            if total < self.complexity.len() as u64 {
                return Err(ForecastError::Infeasible(format!(
                    "capacities hold {total} tasks, {} are given",
                    self.complexity.len()
                )));
            }
        }
        Ok(())
    }

    fn cap(&self, v: usize) -> u32 {
        self.capacity.map_or(u32::MAX, |c| c[v])
    }

    /// Load added to `v` by a task of complexity `c`.
    pub fn cost(&self, c: f64, v: usize) -> f64 {
        c / (self.window * self.performance[v])
    }

    /// The fluid lower bound on the maximum load (module docs).
    pub fn lower_bound(&self) -> f64 {
        let sc: f64 = self.complexity.iter().sum();
        let sp: f64 = self.performance.iter().sum();
        let mc = self.complexity.iter().copied().fold(0.0, f64::max);
        let mp = self.performance.iter().copied().fold(0.0, f64::max);
        (sc / (self.window * sp)).max(mc / (self.window * mp))
    }
}

/// Which validator each task went to, and the resulting loads.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub of_task: Vec<u32>,
    pub load: Vec<f64>,
}

/// Summary figures of an assignment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    pub mean: f64,
    pub variance: f64,
    pub min: f64,
    pub max: f64,
    pub max_over_mean: f64,
    pub lower_bound: f64,
    pub max_over_lower_bound: f64,
}

impl Assignment {
    /// Loads recomputed from scratch (`of_task` is the source of truth).
    pub fn recompute(p: &Problem<'_>, of_task: Vec<u32>) -> Self {
        let mut load = vec![0.0; p.performance.len()];
        for (t, &v) in of_task.iter().enumerate() {
            load[v as usize] += p.complexity[t];
        }
        for (v, l) in load.iter_mut().enumerate() {
            *l /= p.window * p.performance[v];
        }
        Self { of_task, load }
    }

    pub fn stats(&self, p: &Problem<'_>) -> Stats {
        let m = self.load.len() as f64;
        let mean = self.load.iter().sum::<f64>() / m;
        let variance = self.load.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / m;
        let min = self.load.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.load.iter().copied().fold(0.0, f64::max);
        let lb = p.lower_bound();
        Stats {
            mean,
            variance,
            min,
            max,
            max_over_mean: max / mean,
            lower_bound: lb,
            max_over_lower_bound: max / lb,
        }
    }

    /// Tasks per validator.
    pub fn counts(&self, validators: usize) -> Vec<u32> {
        let mut n = vec![0u32; validators];
        for &v in &self.of_task {
            n[v as usize] += 1;
        }
        n
    }
}

/// Candidate search: validators grouped into performance classes, a min-heap by load per class.
struct Selector {
    class_of: Vec<u16>,
    heaps: Vec<BinaryHeap<Reverse<(u64, u32)>>>,
    /// Per class: the top's load (infinite when the class is full or empty) and `1 / (T P(top))`.
    top_load: Vec<f64>,
    top_inv: Vec<f64>,
    load: Vec<f64>,
    count: Vec<u32>,
    inv: Vec<f64>,
    cap: Vec<u32>,
}

impl Selector {
    fn new(p: &Problem<'_>) -> Self {
        let m = p.performance.len();
        let mut distinct: Vec<f64> = p.performance.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let class_of: Vec<u16> = if distinct.len() <= MAX_CLASSES {
            p.performance
                .iter()
                .map(|x| distinct.partition_point(|d| d < x) as u16)
                .collect()
        } else {
            let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
            let span = (hi / lo).ln();
            p.performance
                .iter()
                .map(|x| {
                    let k = ((x / lo).ln() / span * MAX_CLASSES as f64).floor();
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let k = (k.max(0.0) as usize).min(MAX_CLASSES - 1);
                    k as u16
                })
                .collect()
        };
        let classes = class_of.iter().copied().max().map_or(0, |c| c as usize + 1);
        let mut s = Selector {
            class_of,
            heaps: (0..classes).map(|_| BinaryHeap::new()).collect(),
            top_load: vec![f64::INFINITY; classes],
            top_inv: vec![0.0; classes],
            load: vec![0.0; m],
            count: vec![0; m],
            inv: p.performance.iter().map(|&x| 1.0 / (p.window * x)).collect(),
            cap: (0..m).map(|v| p.cap(v)).collect(),
        };
        for v in 0..m {
            if s.cap[v] > 0 {
                s.heaps[s.class_of[v] as usize].push(Reverse((0, v as u32)));
            }
        }
        for c in 0..classes {
            s.refresh(c);
        }
        s
    }

    fn refresh(&mut self, c: usize) {
        match self.heaps[c].peek() {
            Some(&Reverse((_, v))) => {
                self.top_load[c] = self.load[v as usize];
                self.top_inv[c] = self.inv[v as usize];
            }
            None => {
                self.top_load[c] = f64::INFINITY;
                self.top_inv[c] = 0.0;
            }
        }
    }

    /// Places a task of complexity `cx` on the best candidate; `None` when every validator is full.
    fn place(&mut self, cx: f64) -> Option<u32> {
        let mut best = usize::MAX;
        let mut best_key = f64::INFINITY;
        for (c, (&l, &i)) in self.top_load.iter().zip(&self.top_inv).enumerate() {
            let key = l + cx * i;
            if key < best_key {
                best_key = key;
                best = c;
            }
        }
        if best == usize::MAX {
            return None;
        }
        let Reverse((_, v)) = self.heaps[best].pop()?;
        let vi = v as usize;
        self.load[vi] += cx * self.inv[vi];
        self.count[vi] += 1;
        if self.count[vi] < self.cap[vi] {
            self.heaps[best].push(Reverse((self.load[vi].to_bits(), v)));
        }
        self.refresh(best);
        Some(v)
    }
}

/// Online assignment: each arriving task goes where the resulting load is least.
pub struct Online<'a> {
    problem: Problem<'a>,
    sel: Selector,
}

impl<'a> Online<'a> {
    /// `problem.complexity` is ignored; tasks arrive through [`Online::assign`].
    pub fn new(problem: Problem<'a>) -> Result<Self, ForecastError> {
        Problem {
            complexity: &[],
            ..problem
        }
        .validate()?;
        Ok(Self {
            problem,
            sel: Selector::new(&problem),
        })
    }

    pub fn assign(&mut self, complexity: f64) -> Result<u32, ForecastError> {
        if !(complexity >= 0.0 && complexity.is_finite()) {
            return Err(ForecastError::Config(format!("task complexity {complexity}")));
        }
        let m = self.problem.performance.len();
        self.sel
            .place(complexity)
            .ok_or_else(|| ForecastError::Infeasible(format!("all {m} validators are full")))
    }

    pub fn loads(&self) -> &[f64] {
        &self.sel.load
    }
}

fn place_all(p: &Problem<'_>, order: impl Iterator<Item = usize>) -> Result<Assignment, ForecastError> {
    let mut sel = Selector::new(p);
    let mut of_task = vec![0u32; p.complexity.len()];
    for t in order {
        of_task[t] = sel
            .place(p.complexity[t])
            .ok_or_else(|| ForecastError::Infeasible(format!("task #{t}: every validator is full")))?;
    }
    Ok(Assignment::recompute(p, of_task))
}

/// Plain greedy: arrival order, least resulting load.
pub fn greedy(p: &Problem<'_>) -> Result<Assignment, ForecastError> {
    p.validate()?;
    place_all(p, 0..p.complexity.len())
}

/// Task `i` to validator `i mod m`, moving on past full validators.
pub fn round_robin(p: &Problem<'_>) -> Result<Assignment, ForecastError> {
    p.validate()?;
    let m = p.performance.len();
    let mut count = vec![0u32; m];
    let mut v = 0usize;
    let mut of_task = Vec::with_capacity(p.complexity.len());
    for _ in p.complexity {
        while count[v] >= p.cap(v) {
            v = (v + 1) % m;
        }
        count[v] += 1;
        of_task.push(v as u32);
        v = (v + 1) % m;
    }
    Ok(Assignment::recompute(p, of_task))
}

/// LPT order: decreasing complexity, ties by index.
pub fn lpt(p: &Problem<'_>) -> Result<Assignment, ForecastError> {
    p.validate()?;
    let mut order: Vec<u32> = (0..p.complexity.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        p.complexity[b as usize]
            .total_cmp(&p.complexity[a as usize])
            .then(a.cmp(&b))
    });
    place_all(p, order.into_iter().map(|t| t as usize))
}

fn variance(load: &[f64]) -> f64 {
    let m = load.len() as f64;
    let mean = load.iter().sum::<f64>() / m;
    load.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / m
}

/// Batch assignment: the better of LPT and plain greedy, improved by local search
/// (at most `rounds` rounds).
pub fn batch(p: &Problem<'_>, rounds: usize) -> Result<Assignment, ForecastError> {
    let a = lpt(p)?;
    let b = greedy(p)?;
    let start = if variance(&b.load) < variance(&a.load) {
        b
    } else {
        a
    };
    Ok(local_search(p, start, rounds))
}

/// Local search by moves and swaps between paired validators; never raises the variance.
pub fn local_search(p: &Problem<'_>, start: Assignment, rounds: usize) -> Assignment {
    let m = p.performance.len();
    let mf = m as f64;
    let c = p.complexity;
    let inv: Vec<f64> = p.performance.iter().map(|&x| 1.0 / (p.window * x)).collect();
    let mut tasks: Vec<Vec<u32>> = vec![Vec::new(); m];
    for (t, &v) in start.of_task.iter().enumerate() {
        tasks[v as usize].push(t as u32);
    }
    for list in &mut tasks {
        list.sort_unstable_by(|&a, &b| c[a as usize].total_cmp(&c[b as usize]).then(a.cmp(&b)));
    }
    let mut load = start.load;
    let mut s1: f64 = load.iter().sum();
    let mut order: Vec<u32> = (0..m as u32).collect();
    // Variance change when L(u) -= x and L(w) += y.
    let delta = |lu: f64, lw: f64, x: f64, y: f64, s1: f64| {
        let d2 = (-2.0 * lu * x + x * x) + (2.0 * lw * y + y * y);
        let d1 = y - x;
        d2 / mf - d1 * (2.0 * s1 + d1) / (mf * mf)
    };
    for _ in 0..rounds {
        order.sort_unstable_by(|&a, &b| load[b as usize].total_cmp(&load[a as usize]));
        let mut improved = false;
        for k in 0..m / 2 {
            let (u, w) = (order[k] as usize, order[m - 1 - k] as usize);
            let (lu, lw) = (load[u], load[w]);
            if lu <= lw {
                break;
            }
            // Complexity whose transfer equalises the two loads.
            let target = (lu - lw) / (inv[u] + inv[w]);
            let lu_list = &tasks[u];
            let lw_list = &tasks[w];
            // (variance change, task from u, task from w or none)
            let mut best: (f64, usize, Option<usize>) = (0.0, 0, None);
            let tol = -1e-15 * (lu * lu + lw * lw).max(f64::MIN_POSITIVE);
            if lw_list.len() < p.cap(w) as usize && !lu_list.is_empty() {
                let i = lu_list.partition_point(|&t| c[t as usize] < target);
                for j in [i.wrapping_sub(1), i] {
                    if let Some(&t) = lu_list.get(j) {
                        let d = c[t as usize];
                        let dv = delta(lu, lw, d * inv[u], d * inv[w], s1);
                        if dv < best.0 && dv < tol {
                            best = (dv, j, None);
                        }
                    }
                }
            }
            if !lw_list.is_empty() {
                for (ia, &ta) in lu_list.iter().enumerate() {
                    let ca = c[ta as usize];
                    let want = ca - target;
                    let i = lw_list.partition_point(|&t| c[t as usize] < want);
                    for j in [i.wrapping_sub(1), i] {
                        if let Some(&tb) = lw_list.get(j) {
                            let d = ca - c[tb as usize];
                            if d <= 0.0 {
                                continue;
                            }
                            let dv = delta(lu, lw, d * inv[u], d * inv[w], s1);
                            if dv < best.0 && dv < tol {
                                best = (dv, ia, Some(j));
                            }
                        }
                    }
                }
            }
            if best.0 < 0.0 {
                let ta = tasks[u].remove(best.1);
                let mut d = c[ta as usize];
                if let Some(jb) = best.2 {
                    let tb = tasks[w].remove(jb);
                    d -= c[tb as usize];
                    let pos = tasks[u].partition_point(|&t| c[t as usize] < c[tb as usize]);
                    tasks[u].insert(pos, tb);
                }
                let pos = tasks[w].partition_point(|&t| c[t as usize] < c[ta as usize]);
                tasks[w].insert(pos, ta);
                let (x, y) = (d * inv[u], d * inv[w]);
                load[u] -= x;
                load[w] += y;
                s1 += y - x;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    let mut of_task = vec![0u32; c.len()];
    for (v, list) in tasks.iter().enumerate() {
        for &t in list {
            of_task[t as usize] = v as u32;
        }
    }
    // Loads from scratch, so accumulated rounding does not linger.
    Assignment::recompute(p, of_task)
}

#[cfg(test)]
mod tests;
