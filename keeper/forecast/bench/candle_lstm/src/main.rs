//! Trains LSTM(64, seq) -> LSTM(32) -> Dense(1) with Adam on MSE using candle-core (CPU), random
//! data of the given shape, and prints seconds per epoch. Usage: candle-lstm-bench SAMPLES WINDOW
//! FEATURES EPOCHS.
use candle_core::{DType, Device, Result, Tensor, Var};
use std::time::Instant;

/// candle-core has no sigmoid op with a gradient; sigmoid(x) = (tanh(x / 2) + 1) / 2.
fn sigmoid(x: &Tensor) -> Result<Tensor> {
    ((x * 0.5)?.tanh()? + 1.0)? * 0.5
}

struct Lstm {
    wx: Var,
    wh: Var,
    b: Var,
    hidden: usize,
}

impl Lstm {
    fn new(input: usize, hidden: usize, dev: &Device) -> Result<Self> {
        let s = (6.0 / (input + 4 * hidden) as f32).sqrt();
        Ok(Self {
            wx: Var::rand(-s, s, (input, 4 * hidden), dev)?,
            wh: Var::rand(-s, s, (hidden, 4 * hidden), dev)?,
            b: Var::zeros(4 * hidden, DType::F32, dev)?,
            hidden,
        })
    }
    /// xs: (batch, time, input) -> all hidden states (batch, time, hidden).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, time, _) = xs.dims3()?;
        let dev = xs.device();
        let mut h = Tensor::zeros((batch, self.hidden), DType::F32, dev)?;
        let mut c = h.clone();
        let mut outs = Vec::with_capacity(time);
        let n = self.hidden;
        for t in 0..time {
            let x = xs.narrow(1, t, 1)?.squeeze(1)?;
            let z = x.matmul(self.wx.as_tensor())?.add(&h.matmul(self.wh.as_tensor())?)?.broadcast_add(self.b.as_tensor())?;
            let i = sigmoid(&z.narrow(1, 0, n)?)?;
            let f = sigmoid(&z.narrow(1, n, n)?)?;
            let g = z.narrow(1, 2 * n, n)?.tanh()?;
            let o = sigmoid(&z.narrow(1, 3 * n, n)?)?;
            c = f.mul(&c)?.add(&i.mul(&g)?)?;
            h = o.mul(&c.tanh()?)?;
            outs.push(h.clone());
        }
        Tensor::stack(&outs, 1)
    }
    fn vars(&self) -> Vec<&Var> {
        vec![&self.wx, &self.wh, &self.b]
    }
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap_or(0)).collect();
    let (samples, window, features, epochs) = match args.as_slice() {
        [s, w, f, e] => (*s, *w, *f, *e),
        _ => (1000, 14, 4, 3),
    };
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (samples, window, features), &dev)?;
    let y = Tensor::randn(0f32, 1.0, (samples, 1), &dev)?;
    let l1 = Lstm::new(features, 64, &dev)?;
    let l2 = Lstm::new(64, 32, &dev)?;
    let wd = Var::rand(-0.4f32, 0.4, (32, 1), &dev)?;
    let bd = Var::zeros(1, DType::F32, &dev)?;
    let mut vars: Vec<&Var> = l1.vars();
    vars.extend(l2.vars());
    vars.push(&wd);
    vars.push(&bd);
    let mut m: Vec<Tensor> = vars.iter().map(|v| v.zeros_like()).collect::<Result<_>>()?;
    let mut v2: Vec<Tensor> = m.clone();
    let (lr, b1, b2, eps) = (1e-3f64, 0.9f64, 0.999f64, 1e-7f64);
    let batch = 32;
    let mut step = 0i32;
    for epoch in 0..epochs {
        let start = Instant::now();
        let mut total = 0f32;
        let mut at = 0;
        while at < samples {
            let len = batch.min(samples - at);
            let xb = x.narrow(0, at, len)?;
            let yb = y.narrow(0, at, len)?;
            let h1 = l1.forward(&xb)?;
            let h2 = l2.forward(&h1)?;
            let last = h2.narrow(1, window - 1, 1)?.squeeze(1)?;
            let pred = last.matmul(wd.as_tensor())?.broadcast_add(bd.as_tensor())?;
            let loss = pred.sub(&yb)?.sqr()?.mean_all()?;
            total += loss.to_scalar::<f32>()?;
            let grads = loss.backward()?;
            step += 1;
            let c1 = 1.0 - b1.powi(step);
            let c2 = 1.0 - b2.powi(step);
            for (k, var) in vars.iter().enumerate() {
                if let Some(g) = grads.get(var.as_tensor()) {
                    m[k] = ((&m[k] * b1)? + (g * (1.0 - b1))?)?;
                    v2[k] = ((&v2[k] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let mh = (&m[k] / c1)?;
                    let vh = (&v2[k] / c2)?;
                    let upd = (mh / (vh.sqrt()? + eps)?)?;
                    var.set(&var.as_tensor().sub(&(upd * lr)?)?)?;
                }
            }
            at += len;
        }
        println!("candle epoch {epoch}: {:.4} s, mean loss {:.5}", start.elapsed().as_secs_f64(), total);
    }
    Ok(())
}
