//! Trains LSTM(64, seq) -> LSTM(32) -> Dense(1) with Adam (lr 1e-3, eps 1e-7) on MSE using burn
//! 0.22's pure-Rust CPU backend (`Device::flex()`) with autodiff, on random data of the given
//! shape, batch 32, and prints seconds per epoch. Usage: burn-lstm-bench SAMPLES WINDOW FEATURES
//! EPOCHS. Threads: burn-flex's rayon pool (set RAYON_NUM_THREADS to pin it).
use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};

#[derive(Module, Debug)]
struct Net {
    l1: Lstm,
    l2: Lstm,
    dense: Linear,
}

impl Net {
    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let (h1, _) = self.l1.forward(x, None);
        let (h2, _) = self.l2.forward(h1, None);
        let [b, t, h] = h2.dims();
        let last = h2.slice([0..b, t - 1..t, 0..h]).reshape([b, h]);
        self.dense.forward(last)
    }
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap_or(0)).collect();
    let (samples, window, features, epochs) = match args.as_slice() {
        [s, w, f, e] => (*s, *w, *f, *e),
        _ => (1000, 14, 4, 3),
    };
    let device = Device::flex().autodiff();
    let x: Tensor<3> = Tensor::random(
        [samples, window, features],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let y: Tensor<2> = Tensor::random([samples, 1], Distribution::Normal(0.0, 1.0), &device);
    let mut model = Net {
        l1: LstmConfig::new(features, 64, true).init(&device),
        l2: LstmConfig::new(64, 32, true).init(&device),
        dense: LinearConfig::new(32, 1).init(&device),
    };
    let mut optim = AdamConfig::new().with_epsilon(1e-7).init();
    let batch = 32;
    for epoch in 0..epochs {
        let start = Instant::now();
        let mut total = 0f32;
        let mut at = 0;
        while at < samples {
            let len = batch.min(samples - at);
            let xb = x.clone().slice([at..at + len, 0..window, 0..features]);
            let yb = y.clone().slice([at..at + len, 0..1]);
            let pred = model.forward(xb);
            let loss = (pred - yb).powf_scalar(2.0).mean();
            total += loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model, grads);
            at += len;
        }
        println!(
            "burn epoch {epoch}: {:.4} s, mean loss {:.5}",
            start.elapsed().as_secs_f64(),
            total
        );
    }
}
