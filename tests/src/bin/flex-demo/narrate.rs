//! The demo's narration helpers: headings and lines, token amounts, the sample's days and wallets,
//! and the balances a claim and the sweep move.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use flex_e2e::{
    account,
    deploy::Deployment,
    scenario::{Activity, DAY, GENESIS, TOKEN_DECIMALS},
};
use flex_engine::calendar::{date, utc};
use flex_engine::{score::MULTIPLIERS, EpochReport, WeightTotal};

use crate::Cast;

/// Prints the epoch's heading and what happened that day; returns the day's start and end.
pub fn narrate_day(activity: &Activity, epoch: u64) -> Result<(i64, i64)> {
    let e = i64::try_from(epoch).context("epoch number")?;
    let start = GENESIS + e * DAY;
    let end = start + DAY;
    println!();
    say(&format!("Epoch {} ({}, UTC day):", epoch, date(start)));
    // What happened that day, wallet by wallet (in the order of the wallet list).
    let mut day: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for a in activity
        .actions
        .iter()
        .filter(|a| (start..end).contains(&a.timestamp))
    {
        let kind = activity
            .kinds
            .iter()
            .find(|(id, _)| *id == a.kind)
            .map_or("?", |(_, name)| *name);
        day.entry(a.wallet as usize).or_default().push(kind);
    }
    let joined: Vec<String> = activity
        .wallets
        .iter()
        .enumerate()
        .filter(|(_, w)| (start..end).contains(&w.connected_at))
        .map(|(i, _)| format!("W{}", i + 1))
        .collect();
    if !joined.is_empty() {
        say(&format!("  connects: {}", joined.join(", ")));
    }
    let acts: Vec<String> = day
        .iter()
        .map(|(w, kinds)| format!("W{} {}", w + 1, kinds.join(" + ")))
        .collect();
    say(&format!("  activity: {}", acts.join("; ")));
    Ok((start, end))
}

/// One line per listed wallet (in the order W1, W2, ...): score, multiplier, weight, reward.
pub fn narrate_wallets(activity: &Activity, report: &EpochReport, day: std::ops::Range<i64>) {
    // With the default connection bonus an inactive wallet earns nothing (multiplier 0, also with
    // score F in its connection epoch); an active one gets its score's multiplier. Shown only when
    // that reproduces the engine's multiplier sum.
    let multiplier = |i: usize| {
        if report.weights[i] == 0 {
            0
        } else {
            MULTIPLIERS
                .get(usize::from(report.scores[i]))
                .copied()
                .map_or(0, u64::from)
        }
    };
    let show_multipliers = (0..report.wallets.len()).map(multiplier).sum::<u64>() == report.multiplier_sum;
    let mut rows: Vec<(String, usize)> = report
        .wallets
        .iter()
        .enumerate()
        .map(|(i, w)| (label(activity, w), i))
        .collect();
    rows.sort();
    say("    wallet  score  multiplier  weight  reward");
    for (name, i) in rows {
        let connected_today = activity
            .wallets
            .iter()
            .any(|w| w.address == report.wallets[i] && day.contains(&w.connected_at));
        let note = match (connected_today, report.weights[i] == 0) {
            (true, true) => "  (connected today, inactive)",
            (true, false) => "  (connected today: score F, not ranked)",
            (false, true) => "  (inactive)",
            (false, false) => "",
        };
        let mult = if show_multipliers {
            format!("x{}", multiplier(i))
        } else {
            "-".to_string()
        };
        say(&format!(
            "    {name:<6}  {:>5X}  {mult:>10}  {:>6}  {}{note}",
            report.scores[i],
            WeightTotal::from_bits(report.weights[i]).to_string(),
            tokens(report.rewards[i], "FLEXE")
        ));
    }
}

/// Balances the claim and the sweep move.
pub struct Balances {
    pub ferdie_flexe: u128,
    pub pool_flexe: u128,
    pub eve_pay: u128,
    pub treasury_pay: u128,
}

impl Balances {
    pub async fn read(d: &Deployment, cast: &Cast) -> Result<Self> {
        Ok(Self {
            ferdie_flexe: d.flexe.balance_of(&account(&cast.ferdie)).await?,
            pool_flexe: d.flexe.balance_of(&d.pool.address).await?,
            eve_pay: d.pay.balance_of(&account(&cast.eve)).await?,
            treasury_pay: d.pay.balance_of(&cast.treasury).await?,
        })
    }
}

/// `W<n>`: the wallet's position in the sample's wallet list.
pub fn label(activity: &Activity, wallet: &flex_engine::Address) -> String {
    activity
        .wallets
        .iter()
        .position(|w| &w.address == wallet)
        .map_or_else(|| "W?".to_string(), |i| format!("W{}", i + 1))
}

pub fn title(text: &str) {
    println!("{text}");
    println!("{}", "=".repeat(text.chars().count()));
}

pub fn section(text: &str) {
    println!();
    println!("{text}");
    println!("{}", "-".repeat(text.chars().count()));
}

pub fn say(text: &str) {
    println!("{text}");
}

/// `amount` base units of a 12-decimal token, e.g. `1,000,000 FLEXE` or `99.99 FLEXE`.
pub fn tokens(amount: u128, symbol: &str) -> String {
    format!("{} {symbol}", decimal(amount, TOKEN_DECIMALS))
}

/// `value / 10^decimals` in decimal, thousands grouped, without trailing zeros.
pub fn decimal(value: u128, decimals: u8) -> String {
    let scale = 10u128.pow(u32::from(decimals));
    let whole = (value / scale).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let frac = value % scale;
    if frac > 0 {
        let digits = format!("{frac:0width$}", width = usize::from(decimals));
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Hundredths of a percent as a percentage: 1 -> `0.01`.
pub fn hundredths(v: u8) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

pub fn utc_s(unix_s: u64) -> Result<String> {
    Ok(utc(i64::try_from(unix_s).context("timestamp out of range")?))
}
