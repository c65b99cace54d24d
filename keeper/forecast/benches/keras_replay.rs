//! Exports what a Rust training run draws at random, so `bench/keras_replay.py` can train the
//! Keras model from the same start on the same batches (benchmark tooling, not a test): the
//! initial weights in Keras' order and shapes (LSTM kernel `input x 4h`, recurrent kernel
//! `h x 4h`, bias `4h`, gates i, f, c, o; Dense kernel `h2 x 1`, bias) and each epoch's sample
//! order. With both networks starting and stepping alike, the held-out errors show whether the
//! implementations differ or only their random draws do.
//! Run: `cargo bench -p flex-forecast --bench keras_replay -- CSV WINDOW EPOCHS SEED > run.json`.

use std::path::PathBuf;

use flex_forecast::forecaster::shuffle_rng;
use flex_forecast::nn::{Network, Shape};
use flex_forecast::prep::Split;
use flex_forecast::History;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let csv = args
        .first()
        .map_or_else(|| root.join("data/synthetic_epochs.csv"), PathBuf::from);
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (window, epochs, seed) = (num(1, 14) as usize, num(2, 30) as usize, num(3, 1));
    let h = History::read(&csv).unwrap_or_else(|e| panic!("{e}"));
    let split = Split::new(h.rows(), window, 0.8).unwrap_or_else(|e| panic!("{e}"));
    // The forecaster trains target k with seed + k; the bench trains one target (k = 0).
    let net = Network::<f32>::new(Shape::seed(h.columns.len()), seed);
    let lay = net.layout();
    let p = &net.params;
    let weights = vec![
        p[lay.l1_wx..lay.l1_wh].to_vec(),
        p[lay.l1_wh..lay.l1_b].to_vec(),
        p[lay.l1_b..lay.l2_wx].to_vec(),
        p[lay.l2_wx..lay.l2_wh].to_vec(),
        p[lay.l2_wh..lay.l2_b].to_vec(),
        p[lay.l2_b..lay.d_w].to_vec(),
        p[lay.d_w..lay.d_b].to_vec(),
        vec![p[lay.d_b]],
    ];
    let mut rng = shuffle_rng(seed);
    let mut order: Vec<usize> = (0..split.train).collect();
    let mut orders = Vec::new();
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        orders.push(order.clone());
    }
    let out = serde_json::json!({
        "seed": seed,
        "window": window,
        "train": split.train,
        "weights": weights,
        "orders": orders,
    });
    println!("{out}");
}
