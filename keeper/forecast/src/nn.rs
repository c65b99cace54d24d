//! The seed's network, written out by hand: LSTM(h1, return sequences) -> LSTM(h2) -> Dense(1),
//! trained with Adam on mean squared error by backpropagation through time with analytic
//! gradients.
//!
//! Conventions follow Keras so that the reference script trains the same model: gate order
//! `i, f, g (cell candidate), o`; sigmoid gates, tanh cell and output; kernels Glorot-uniform,
//! recurrent kernels orthogonal, biases zero with the forget gate's set to one; Adam with
//! `lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-7`.
//!
//! Every parameter lives in one flat vector (see [`Layout`]) so the optimiser is one loop.
//! Activations are time-major: a batch at step `t` is `B x width`, row-major.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::rng::Rng;

/// The float the network computes in: `f32` for training and inference, `f64` for gradient checks.
pub trait Real:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    /// The logistic function as the network applies it (see [`fast_exp`] for `f32`).
    fn sigmoid(self) -> Self;
    /// tanh as the network applies it.
    fn tanh_act(self) -> Self;
}

macro_rules! real {
    ($t:ty, $sig:expr, $tanh:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[allow(clippy::cast_possible_truncation)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                $sig(self)
            }
            #[inline(always)]
            fn tanh_act(self) -> Self {
                $tanh(self)
            }
        }
    };
}
real!(f32, |x: f32| 1.0 / (1.0 + fast_exp(-x)), |x: f32| 2.0
    / (1.0 + fast_exp(-2.0 * x))
    - 1.0);
real!(f64, |x: f64| 1.0 / (1.0 + (-x).exp()), f64::tanh);

/// `e^x` for `f32` without a library call, so activation loops vectorise: Cody-Waite range
/// reduction `x = n ln2 + r` and Cephes' degree-6 polynomial for `e^r` (relative error about
/// 2e-7 over the clamped range `[-87, 88]`). `f64` (gradient checks) uses the exact functions.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5 * 2^23 trick (no libm `round` call).
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    #[allow(clippy::cast_possible_truncation)]
    let bits = ((n as i32 + 127) as u32) << 23;
    y * f32::from_bits(bits)
}

/// `y += a * x`.
#[inline(always)]
fn axpy<F: Real>(a: F, x: &[F], y: &mut [F]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Dot product with eight independent accumulators (lets the compiler vectorise a float sum).
#[inline(always)]
fn dot<F: Real>(a: &[F], b: &[F]) -> F {
    let mut acc = [F::ZERO; 8];
    let (ac, ar) = (a.chunks_exact(8), a.chunks_exact(8).remainder());
    let (bc, br) = (b.chunks_exact(8), b.chunks_exact(8).remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = F::ZERO;
    for (x, y) in ar.iter().zip(br) {
        s += *x * *y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s
}

/// Layer widths: `input` features per step, two LSTM layers, one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    pub input: usize,
    pub hidden1: usize,
    pub hidden2: usize,
}

impl Shape {
    /// The seed's widths: 64 and 32.
    pub fn seed(input: usize) -> Self {
        Self {
            input,
            hidden1: 64,
            hidden2: 32,
        }
    }
}

/// Offsets of each tensor in the flat parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub l1_wx: usize,
    pub l1_wh: usize,
    pub l1_b: usize,
    pub l2_wx: usize,
    pub l2_wh: usize,
    pub l2_b: usize,
    pub d_w: usize,
    pub d_b: usize,
    pub len: usize,
}

impl Layout {
    pub fn new(s: Shape) -> Self {
        let (d, h1, h2) = (s.input, s.hidden1, s.hidden2);
        let l1_wx = 0;
        let l1_wh = l1_wx + d * 4 * h1;
        let l1_b = l1_wh + h1 * 4 * h1;
        let l2_wx = l1_b + 4 * h1;
        let l2_wh = l2_wx + h1 * 4 * h2;
        let l2_b = l2_wh + h2 * 4 * h2;
        let d_w = l2_b + 4 * h2;
        let d_b = d_w + h2;
        Self {
            l1_wx,
            l1_wh,
            l1_b,
            l2_wx,
            l2_wh,
            l2_b,
            d_w,
            d_b,
            len: d_b + 1,
        }
    }
}

/// The network's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Network<F> {
    pub shape: Shape,
    pub params: Vec<F>,
}

/// Glorot-uniform `rows x cols` (fan in `rows`, fan out `cols`).
fn glorot(rng: &mut Rng, out: &mut [f64], rows: usize, cols: usize) {
    let limit = (6.0 / (rows + cols) as f64).sqrt();
    for v in out.iter_mut().take(rows * cols) {
        *v = rng.range(-limit, limit);
    }
}

/// `rows x cols` with orthonormal rows (`rows <= cols`), by modified Gram-Schmidt on a normal draw.
fn orthogonal(rng: &mut Rng, out: &mut [f64], rows: usize, cols: usize) {
    for v in out.iter_mut().take(rows * cols) {
        *v = rng.normal();
    }
    for r in 0..rows {
        for q in 0..r {
            let (done, rest) = out.split_at_mut(r * cols);
            let prev = &done[q * cols..(q + 1) * cols];
            let row = &mut rest[..cols];
            let p: f64 = prev.iter().zip(row.iter()).map(|(a, b)| a * b).sum();
            for (x, y) in row.iter_mut().zip(prev) {
                *x -= p * y;
            }
        }
        let row = &mut out[r * cols..(r + 1) * cols];
        let n = row.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        for x in row.iter_mut() {
            *x /= n;
        }
    }
}

fn lstm_init(rng: &mut Rng, p: &mut [f64], input: usize, h: usize, wx: usize, wh: usize, b: usize) {
    glorot(rng, &mut p[wx..], input, 4 * h);
    orthogonal(rng, &mut p[wh..], h, 4 * h);
    for (k, v) in p[b..b + 4 * h].iter_mut().enumerate() {
        *v = if (h..2 * h).contains(&k) { 1.0 } else { 0.0 };
    }
}

impl<F: Real> Network<F> {
    /// Keras-style initialisation from a seed.
    pub fn new(shape: Shape, seed: u64) -> Self {
        let lay = Layout::new(shape);
        let mut rng = Rng::new(seed);
        let mut p = vec![0.0f64; lay.len];
        lstm_init(
            &mut rng,
            &mut p,
            shape.input,
            shape.hidden1,
            lay.l1_wx,
            lay.l1_wh,
            lay.l1_b,
        );
        lstm_init(
            &mut rng,
            &mut p,
            shape.hidden1,
            shape.hidden2,
            lay.l2_wx,
            lay.l2_wh,
            lay.l2_b,
        );
        glorot(&mut rng, &mut p[lay.d_w..], shape.hidden2, 1);
        Self {
            shape,
            params: p.into_iter().map(F::from_f64).collect(),
        }
    }

    pub fn layout(&self) -> Layout {
        Layout::new(self.shape)
    }
}

/// Cached activations of one LSTM layer over a batch: per step, the four gate activations
/// (`B x 4h`), the cell state, its tanh and the output (`B x h` each).
#[derive(Debug, Default, Clone)]
struct LayerCache<F> {
    gates: Vec<F>,
    c: Vec<F>,
    tc: Vec<F>,
    h: Vec<F>,
}

impl<F: Real> LayerCache<F> {
    fn resize(&mut self, steps: usize, batch: usize, h: usize) {
        self.gates.resize(steps * batch * 4 * h, F::ZERO);
        self.c.resize(steps * batch * h, F::ZERO);
        self.tc.resize(steps * batch * h, F::ZERO);
        self.h.resize(steps * batch * h, F::ZERO);
    }
}

/// Reusable buffers for forward and backward passes.
#[derive(Debug, Default, Clone)]
pub struct Workspace<F> {
    l1: LayerCache<F>,
    l2: LayerCache<F>,
    out: Vec<F>,
    d_out: Vec<F>,
    d_h1: Vec<F>,
    d_h2: Vec<F>,
    dz: Vec<F>,
    dh_next: Vec<F>,
    dc_next: Vec<F>,
    l1_wh_t: Vec<F>,
    l2_wx_t: Vec<F>,
    l2_wh_t: Vec<F>,
}

struct LstmRef<'a, F> {
    wx: &'a [F],
    wh: &'a [F],
    b: &'a [F],
    input: usize,
    hidden: usize,
}

/// Forward pass of one LSTM layer over `steps` steps of `x` (`steps x batch x input`).
#[inline(always)]
fn lstm_forward<F: Real>(l: &LstmRef<'_, F>, x: &[F], steps: usize, batch: usize, cache: &mut LayerCache<F>) {
    let (d, h) = (l.input, l.hidden);
    let g4 = 4 * h;
    for t in 0..steps {
        for r in 0..batch {
            let row = (t * batch + r) * g4;
            let z = &mut cache.gates[row..row + g4];
            z.copy_from_slice(l.b);
            let xr = &x[(t * batch + r) * d..(t * batch + r + 1) * d];
            for (k, &xv) in xr.iter().enumerate() {
                axpy(xv, &l.wx[k * g4..(k + 1) * g4], z);
            }
            if t > 0 {
                let hp = &cache.h[((t - 1) * batch + r) * h..((t - 1) * batch + r + 1) * h];
                for (k, &hv) in hp.iter().enumerate() {
                    axpy(hv, &l.wh[k * g4..(k + 1) * g4], z);
                }
            }
            for v in &mut z[..2 * h] {
                *v = v.sigmoid();
            }
            for v in &mut z[2 * h..3 * h] {
                *v = v.tanh_act();
            }
            for v in &mut z[3 * h..] {
                *v = v.sigmoid();
            }
            let s = (t * batch + r) * h;
            for j in 0..h {
                let (i, f, g, o) = (z[j], z[h + j], z[2 * h + j], z[3 * h + j]);
                let cp = if t > 0 {
                    cache.c[s - batch * h + j]
                } else {
                    F::ZERO
                };
                let c = f * cp + i * g;
                let tc = c.tanh_act();
                cache.c[s + j] = c;
                cache.tc[s + j] = tc;
                cache.h[s + j] = o * tc;
            }
        }
    }
}

/// `rows x cols` row-major into `cols x rows`.
#[inline(always)]
fn transpose<F: Real>(m: &[F], rows: usize, cols: usize, out: &mut Vec<F>) {
    out.clear();
    out.resize(rows * cols, F::ZERO);
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = m[r * cols + c];
        }
    }
}

/// Backward pass of one LSTM layer (`transposed`: `Wx^T` and `Wh^T`). `dh` holds the loss gradient with respect to each step's
/// output (`steps x batch x hidden`); gradients are added into `g_wx`, `g_wh`, `g_b`; `dx`, when
/// given, receives the gradient with respect to the layer's input.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_backward<F: Real>(
    l: &LstmRef<'_, F>,
    x: &[F],
    steps: usize,
    batch: usize,
    cache: &LayerCache<F>,
    dh: &[F],
    grads: (&mut [F], &mut [F], &mut [F]),
    mut dx: Option<&mut [F]>,
    scratch: (&mut Vec<F>, &mut Vec<F>, &mut Vec<F>),
    transposed: (&[F], &[F]),
) {
    let (d, h) = (l.input, l.hidden);
    let (wx_t, wh_t) = transposed;
    let g4 = 4 * h;
    let (g_wx, g_wh, g_b) = grads;
    let (dz, dh_next, dc_next) = scratch;
    dz.clear();
    dz.resize(g4, F::ZERO);
    dh_next.clear();
    dh_next.resize(batch * h, F::ZERO);
    dc_next.clear();
    dc_next.resize(batch * h, F::ZERO);
    for t in (0..steps).rev() {
        for r in 0..batch {
            let s = (t * batch + r) * h;
            let gates = &cache.gates[(t * batch + r) * g4..(t * batch + r + 1) * g4];
            for j in 0..h {
                let (i, f, g, o) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
                let tc = cache.tc[s + j];
                let cp = if t > 0 {
                    cache.c[s - batch * h + j]
                } else {
                    F::ZERO
                };
                let dhv = dh[s + j] + dh_next[r * h + j];
                let dc = dc_next[r * h + j] + dhv * o * (F::ONE - tc * tc);
                dc_next[r * h + j] = dc * f;
                dz[j] = dc * g * i * (F::ONE - i);
                dz[h + j] = dc * cp * f * (F::ONE - f);
                dz[2 * h + j] = dc * i * (F::ONE - g * g);
                dz[3 * h + j] = dhv * tc * o * (F::ONE - o);
            }
            for (gb, &v) in g_b.iter_mut().zip(dz.iter()) {
                *gb += v;
            }
            let xr = &x[(t * batch + r) * d..(t * batch + r + 1) * d];
            for (k, &xv) in xr.iter().enumerate() {
                axpy(xv, dz, &mut g_wx[k * g4..(k + 1) * g4]);
            }
            // dx = Wx dz and dh_prev = Wh dz, as sums of rows of the transposed kernels.
            if let Some(dx) = dx.as_deref_mut() {
                let dxr = &mut dx[(t * batch + r) * d..(t * batch + r + 1) * d];
                dxr.fill(F::ZERO);
                for (j, &v) in dz.iter().enumerate() {
                    axpy(v, &wx_t[j * d..(j + 1) * d], dxr);
                }
            }
            let dhn = &mut dh_next[r * h..(r + 1) * h];
            if t > 0 {
                let hp = &cache.h[((t - 1) * batch + r) * h..((t - 1) * batch + r + 1) * h];
                for (k, &hv) in hp.iter().enumerate() {
                    axpy(hv, dz, &mut g_wh[k * g4..(k + 1) * g4]);
                }
                dhn.fill(F::ZERO);
                for (j, &v) in dz.iter().enumerate() {
                    axpy(v, &wh_t[j * h..(j + 1) * h], dhn);
                }
            }
        }
    }
}

impl<F: Real> Network<F> {
    fn layers(&self) -> (LstmRef<'_, F>, LstmRef<'_, F>) {
        let (s, lay, p) = (self.shape, self.layout(), &self.params);
        (
            LstmRef {
                wx: &p[lay.l1_wx..lay.l1_wh],
                wh: &p[lay.l1_wh..lay.l1_b],
                b: &p[lay.l1_b..lay.l2_wx],
                input: s.input,
                hidden: s.hidden1,
            },
            LstmRef {
                wx: &p[lay.l2_wx..lay.l2_wh],
                wh: &p[lay.l2_wh..lay.l2_b],
                b: &p[lay.l2_b..lay.d_w],
                input: s.hidden1,
                hidden: s.hidden2,
            },
        )
    }

    /// Forward pass over `x` (`steps x batch x input`, time-major); returns one output per sample.
    pub fn forward<'w>(&self, x: &[F], steps: usize, batch: usize, ws: &'w mut Workspace<F>) -> &'w [F] {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.forward_avx2(x, steps, batch, ws) };
            return &ws.out;
        }
        self.forward_impl(x, steps, batch, ws);
        &ws.out
    }

    /// The same code compiled for AVX2: wider vectors, identical results (no FMA contraction,
    /// the same summation order), so a seed gives the same model on either path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(&self, x: &[F], steps: usize, batch: usize, ws: &mut Workspace<F>) {
        self.forward_impl(x, steps, batch, ws);
    }

    #[inline(always)]
    fn forward_impl(&self, x: &[F], steps: usize, batch: usize, ws: &mut Workspace<F>) {
        let s = self.shape;
        assert_eq!(
            x.len(),
            steps * batch * s.input,
            "input is steps x batch x features"
        );
        let (l1, l2) = self.layers();
        ws.l1.resize(steps, batch, s.hidden1);
        ws.l2.resize(steps, batch, s.hidden2);
        lstm_forward(&l1, x, steps, batch, &mut ws.l1);
        lstm_forward(&l2, &ws.l1.h, steps, batch, &mut ws.l2);
        let lay = self.layout();
        let (w, b) = (&self.params[lay.d_w..lay.d_b], self.params[lay.d_b]);
        ws.out.clear();
        let last = &ws.l2.h[(steps - 1) * batch * s.hidden2..];
        for r in 0..batch {
            ws.out.push(b + dot(&last[r * s.hidden2..(r + 1) * s.hidden2], w));
        }
    }

    /// Forward and backward pass: returns the batch's mean squared error and writes its gradient
    /// with respect to every parameter into `grad` (overwritten, same layout as `params`).
    pub fn loss_and_grad(
        &self,
        x: &[F],
        y: &[F],
        steps: usize,
        batch: usize,
        ws: &mut Workspace<F>,
        grad: &mut [F],
    ) -> F {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.loss_and_grad_avx2(x, y, steps, batch, ws, grad) };
        }
        self.loss_and_grad_impl(x, y, steps, batch, ws, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn loss_and_grad_avx2(
        &self,
        x: &[F],
        y: &[F],
        steps: usize,
        batch: usize,
        ws: &mut Workspace<F>,
        grad: &mut [F],
    ) -> F {
        self.loss_and_grad_impl(x, y, steps, batch, ws, grad)
    }

    #[inline(always)]
    fn loss_and_grad_impl(
        &self,
        x: &[F],
        y: &[F],
        steps: usize,
        batch: usize,
        ws: &mut Workspace<F>,
        grad: &mut [F],
    ) -> F {
        let s = self.shape;
        let lay = self.layout();
        assert_eq!(y.len(), batch);
        assert_eq!(grad.len(), lay.len);
        self.forward_impl(x, steps, batch, ws);
        let inv_b = F::ONE / F::from_f64(batch as f64);
        let mut loss = F::ZERO;
        ws.d_out.clear();
        for (o, t) in ws.out.iter().zip(y) {
            let e = *o - *t;
            loss += e * e;
            ws.d_out.push(F::from_f64(2.0) * e * inv_b);
        }
        loss *= inv_b;
        grad.fill(F::ZERO);
        let (h1, h2) = (s.hidden1, s.hidden2);
        // Dense.
        let last = (steps - 1) * batch * h2;
        ws.d_h2.clear();
        ws.d_h2.resize(steps * batch * h2, F::ZERO);
        let w = &self.params[lay.d_w..lay.d_b];
        for r in 0..batch {
            let dy = ws.d_out[r];
            grad[lay.d_b] += dy;
            axpy(
                dy,
                &ws.l2.h[last + r * h2..last + (r + 1) * h2],
                &mut grad[lay.d_w..lay.d_b],
            );
            axpy(dy, w, &mut ws.d_h2[last + r * h2..last + (r + 1) * h2]);
        }
        let (l1, l2) = self.layers();
        transpose(l1.wh, h1, 4 * h1, &mut ws.l1_wh_t);
        transpose(l2.wx, h1, 4 * h2, &mut ws.l2_wx_t);
        transpose(l2.wh, h2, 4 * h2, &mut ws.l2_wh_t);
        ws.d_h1.clear();
        ws.d_h1.resize(steps * batch * h1, F::ZERO);
        let (g1, g2) = grad.split_at_mut(lay.l2_wx);
        {
            let (g_wx, rest) = g2.split_at_mut(lay.l2_wh - lay.l2_wx);
            let (g_wh, rest) = rest.split_at_mut(lay.l2_b - lay.l2_wh);
            let g_b = &mut rest[..4 * h2];
            lstm_backward(
                &l2,
                &ws.l1.h,
                steps,
                batch,
                &ws.l2,
                &ws.d_h2,
                (g_wx, g_wh, g_b),
                Some(&mut ws.d_h1),
                (&mut ws.dz, &mut ws.dh_next, &mut ws.dc_next),
                (&ws.l2_wx_t, &ws.l2_wh_t),
            );
        }
        let (g_wx, rest) = g1.split_at_mut(lay.l1_wh);
        let (g_wh, g_b) = rest.split_at_mut(lay.l1_b - lay.l1_wh);
        lstm_backward(
            &l1,
            x,
            steps,
            batch,
            &ws.l1,
            &ws.d_h1,
            (g_wx, g_wh, g_b),
            None,
            (&mut ws.dz, &mut ws.dh_next, &mut ws.dc_next),
            (&[], &ws.l1_wh_t),
        );
        loss
    }
}

/// Adam as Keras applies it: `p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`.
#[derive(Debug, Clone)]
pub struct Adam<F> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    m: Vec<F>,
    v: Vec<F>,
    t: i32,
}

impl<F: Real> Adam<F> {
    pub fn new(n: usize, lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            m: vec![F::ZERO; n],
            v: vec![F::ZERO; n],
            t: 0,
        }
    }

    pub fn step(&mut self, params: &mut [F], grad: &[F]) {
        self.t += 1;
        let lr_t = self.lr * (1.0 - self.beta2.powi(self.t)).sqrt() / (1.0 - self.beta1.powi(self.t));
        let (b1, b2) = (F::from_f64(self.beta1), F::from_f64(self.beta2));
        let (c1, c2) = (F::from_f64(1.0 - self.beta1), F::from_f64(1.0 - self.beta2));
        let (lr_t, eps) = (F::from_f64(lr_t), F::from_f64(self.eps));
        for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + c1 * g;
            *v = b2 * *v + c2 * g * g;
            *p -= lr_t * *m / (v.sqrt() + eps);
        }
    }
}

#[cfg(test)]
mod tests;
