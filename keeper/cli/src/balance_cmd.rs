//! `flex-keeper balance`: assigns tasks to validators minimising the variance of the load factor
//! (flex_forecast::balance) and prints a JSON summary next to round-robin and plain greedy.
//!
//! Files are CSV with a header line. Tasks: `id,complexity`. Validators:
//! `id,performance[,capacity]` (capacity: most tasks the validator may take; empty = no limit).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use flex_forecast::balance::{batch, greedy, round_robin, Assignment, Online, Problem};
use serde_json::json;

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// Tasks CSV: `id,complexity`.
    #[arg(long, value_name = "FILE")]
    tasks: PathBuf,
    /// Validators CSV: `id,performance[,capacity]`.
    #[arg(long, value_name = "FILE")]
    validators: PathBuf,
    /// Window length T.
    #[arg(long, default_value_t = 1.0)]
    window: f64,
    /// Assign tasks one by one in file order (online rule) instead of the batch algorithm.
    #[arg(long)]
    online: bool,
    /// Local-search rounds of the batch algorithm.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Write the assignment as CSV `task,validator`.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

struct Table {
    ids: Vec<String>,
    values: Vec<f64>,
    capacity: Vec<Option<u32>>,
}

fn read_table(path: &Path, value: &str, with_capacity: bool) -> anyhow::Result<Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: read", path.display()))?;
    let mut t = Table {
        ids: Vec::new(),
        values: Vec::new(),
        capacity: Vec::new(),
    };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        bail!("{}: empty file", path.display())
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let max = if with_capacity { 3 } else { 2 };
    if cols.len() < 2 || cols.len() > max || cols[1] != value {
        bail!(
            "{}:1: header must be `id,{value}{}`, got {header:?}",
            path.display(),
            if with_capacity { "[,capacity]" } else { "" }
        );
    }
    for (i, line) in lines {
        let n = i + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            bail!(
                "{}:{n}: {} fields, header has {}",
                path.display(),
                f.len(),
                cols.len()
            );
        }
        let v: f64 = f[1]
            .parse()
            .with_context(|| format!("{}:{n}: field {value:?}: {:?}", path.display(), f[1]))?;
        t.ids.push(f[0].to_owned());
        t.values.push(v);
        t.capacity.push(match f.get(2) {
            Some(s) if !s.is_empty() => Some(
                s.parse()
                    .with_context(|| format!("{}:{n}: field \"capacity\": {s:?}", path.display()))?,
            ),
            _ => None,
        });
    }
    Ok(t)
}

pub fn run(args: BalanceArgs) -> anyhow::Result<()> {
    let tasks = read_table(&args.tasks, "complexity", false)?;
    let vals = read_table(&args.validators, "performance", true)?;
    let caps: Option<Vec<u32>> = vals
        .capacity
        .iter()
        .any(Option::is_some)
        .then(|| vals.capacity.iter().map(|c| c.unwrap_or(u32::MAX)).collect());
    let p = Problem {
        complexity: &tasks.values,
        performance: &vals.values,
        capacity: caps.as_deref(),
        window: args.window,
    };
    let located = |e: flex_forecast::ForecastError| {
        let msg = e.to_string();
        match e {
            flex_forecast::ForecastError::Input {
                what: "task", index, ..
            } => {
                anyhow::anyhow!(
                    "{}:{}: {msg}",
                    args.tasks.display(),
                    tasks.ids.get(index).map_or("?", |s| s.as_str())
                )
            }
            flex_forecast::ForecastError::Input {
                what: "validator",
                index,
                ..
            } => {
                anyhow::anyhow!(
                    "{}:{}: {msg}",
                    args.validators.display(),
                    vals.ids.get(index).map_or("?", |s| s.as_str())
                )
            }
            _ => anyhow::anyhow!(msg),
        }
    };
    p.validate().map_err(located)?;
    let start = Instant::now();
    let a = if args.online {
        let mut on = Online::new(p).map_err(located)?;
        let of_task = tasks
            .values
            .iter()
            .map(|&c| on.assign(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(located)?;
        Assignment::recompute(&p, of_task)
    } else {
        batch(&p, args.rounds).map_err(located)?
    };
    let seconds = start.elapsed().as_secs_f64();
    let rr = round_robin(&p).map_err(located)?.stats(&p);
    let g = greedy(&p).map_err(located)?.stats(&p);
    let s = a.stats(&p);
    let counts = a.counts(vals.values.len());
    if let Some(out) = &args.output {
        let mut csv = String::from("task,validator\n");
        for (t, &v) in a.of_task.iter().enumerate() {
            csv.push_str(&tasks.ids[t]);
            csv.push(',');
            csv.push_str(&vals.ids[v as usize]);
            csv.push('\n');
        }
        std::fs::write(out, csv).with_context(|| format!("{}: write", out.display()))?;
    }
    let most = (0..vals.values.len())
        .max_by(|&x, &y| a.load[x].total_cmp(&a.load[y]))
        .unwrap_or(0);
    let least = (0..vals.values.len())
        .min_by(|&x, &y| a.load[x].total_cmp(&a.load[y]))
        .unwrap_or(0);
    let summary = json!({
        "tasks": tasks.values.len(),
        "validators": vals.values.len(),
        "window": args.window,
        "method": if args.online { "online" } else { "batch" },
        "seconds": seconds,
        "stats": s,
        "most_loaded": {"validator": vals.ids.get(most), "load": a.load.get(most), "tasks": counts.get(most)},
        "least_loaded": {"validator": vals.ids.get(least), "load": a.load.get(least), "tasks": counts.get(least)},
        "round_robin": rr,
        "greedy": g,
        "variance_vs_round_robin": s.variance / rr.variance,
        "variance_vs_greedy": s.variance / g.variance,
        "output": args.output.as_ref().map(|o| o.display().to_string()),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
