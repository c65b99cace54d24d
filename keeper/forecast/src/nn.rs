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
//! Activations are time-major: a batch at step `t` is `B x width`, row-major. The passes work on
//! whole batches: the input projection of every step, the weight gradients and the input gradient
//! are one matrix product each, and only the recurrent products run step by step (for the whole
//! batch at once); the products are the blocked kernels of `gemm`, which sum every element in
//! the same order on every CPU, so a seed gives the same bits everywhere.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::rng::Rng;

use gemm::{pack_a, Kernel, Portable};
#[cfg(target_arch = "x86_64")]
use gemm::{Avx2, Avx512};

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
    /// The slice as `f32`s when `Self` is `f32` (for the hand-vectorised matrix kernels).
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// The same for a mutable slice; `Err` gives it back unchanged.
    fn as_f32_mut(s: &mut [Self]) -> Result<&mut [f32], &mut [Self]> {
        Err(s)
    }
}

macro_rules! real {
    ($t:ty, $sig:expr, $tanh:expr $(, $extra:item)*) => {
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
            $($extra)*
        }
    };
}
real!(
    f32,
    |x: f32| 1.0 / (1.0 + fast_exp(-x)),
    |x: f32| 2.0 / (1.0 + fast_exp(-2.0 * x)) - 1.0,
    fn as_f32(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    },
    fn as_f32_mut(s: &mut [f32]) -> Result<&mut [f32], &mut [f32]> {
        Ok(s)
    }
);
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
/// (`B x 4h`; the backward pass overwrites them with the gate pre-activation gradients), the
/// cell state, its tanh and the output (`B x h` each).
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
    pack: Vec<F>,
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
///
/// Each gate pre-activation is `b + sum_k x_k Wx[k] + sum_k h_k Wh[k]`, added in that order:
/// first the input projection of every step as one product, then step by step the recurrent
/// product of the whole batch.
#[inline(always)]
fn lstm_forward<F: Real, K: Kernel>(
    l: &LstmRef<'_, F>,
    x: &[F],
    (steps, batch): (usize, usize),
    cache: &mut LayerCache<F>,
    pack: &mut Vec<F>,
) {
    let (d, h) = (l.input, l.hidden);
    let g4 = 4 * h;
    let rows = steps * batch;
    for z in cache.gates.chunks_exact_mut(g4).take(rows) {
        z.copy_from_slice(l.b);
    }
    pack_a::<F, K>(x, (rows, d), (d, 1), pack);
    K::gemm((rows, g4, d), pack, l.wx, g4, &mut cache.gates, g4);
    for t in 0..steps {
        let zt = &mut cache.gates[t * batch * g4..(t + 1) * batch * g4];
        if t > 0 {
            let hp = &cache.h[(t - 1) * batch * h..t * batch * h];
            pack_a::<F, K>(hp, (batch, h), (h, 1), pack);
            K::gemm((batch, g4, h), pack, l.wh, g4, zt, g4);
        }
        let zero = vec![F::ZERO; if t == 0 { h } else { 0 }];
        for (r, z) in zt.chunks_exact_mut(g4).enumerate() {
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
            let (before, c) = cache.c.split_at_mut(s);
            let cp = if t > 0 { &before[s - batch * h..] } else { &zero };
            let (i, f, g, o) = (&z[..h], &z[h..2 * h], &z[2 * h..3 * h], &z[3 * h..g4]);
            let (cp, c) = (&cp[..h], &mut c[..h]);
            let (tc, ho) = (&mut cache.tc[s..s + h], &mut cache.h[s..s + h]);
            // Index loops over slices of one proven length: no bounds checks, so they vectorise.
            #[allow(clippy::needless_range_loop)]
            for j in 0..h {
                let cv = f[j] * cp[j] + i[j] * g[j];
                let t = cv.tanh_act();
                c[j] = cv;
                tc[j] = t;
                ho[j] = o[j] * t;
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

/// Backward pass of one LSTM layer (`transposed`: `Wx^T` and `Wh^T`). `dh` holds the loss
/// gradient with respect to each step's output (`steps x batch x hidden`); gradients are added
/// into `g_wx`, `g_wh`, `g_b`; `dx`, when given (zeroed), receives the gradient with respect to
/// the layer's input.
///
/// Only `dh_prev = dz Wh^T` runs step by step; the gate gradients `dz` of every step overwrite
/// the cached gates, and the weight gradients (`X^T dz`, `H_prev^T dz`) and `dx = dz Wx^T` are
/// then one product each over all steps.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_backward<F: Real, K: Kernel>(
    l: &LstmRef<'_, F>,
    x: &[F],
    (steps, batch): (usize, usize),
    cache: &mut LayerCache<F>,
    dh: &[F],
    grads: (&mut [F], &mut [F], &mut [F]),
    dx: Option<&mut [F]>,
    scratch: (&mut Vec<F>, &mut Vec<F>, &mut Vec<F>),
    transposed: (&[F], &[F]),
) {
    let (d, h) = (l.input, l.hidden);
    let (wx_t, wh_t) = transposed;
    let g4 = 4 * h;
    let rows = steps * batch;
    let (g_wx, g_wh, g_b) = grads;
    let (pack, dh_next, dc_next) = scratch;
    dh_next.clear();
    dh_next.resize(batch * h, F::ZERO);
    dc_next.clear();
    dc_next.resize(batch * h, F::ZERO);
    let zero = vec![F::ZERO; h];
    for t in (0..steps).rev() {
        let zt = &mut cache.gates[t * batch * g4..(t + 1) * batch * g4];
        for (r, dz) in zt.chunks_exact_mut(g4).enumerate() {
            let s = (t * batch + r) * h;
            let cp = if t > 0 {
                &cache.c[s - batch * h..s - batch * h + h]
            } else {
                &zero[..h]
            };
            let (tc, dh) = (&cache.tc[s..s + h], &dh[s..s + h]);
            let (dhn, dcn) = (&dh_next[r * h..(r + 1) * h], &mut dc_next[r * h..(r + 1) * h]);
            let (di, rest) = dz.split_at_mut(h);
            let (df, rest) = rest.split_at_mut(h);
            let (dg, d_o) = rest.split_at_mut(h);
            let (di, df, dg, d_o) = (&mut di[..h], &mut df[..h], &mut dg[..h], &mut d_o[..h]);
            // Index loops over slices of one proven length: no bounds checks, so they vectorise.
            #[allow(clippy::needless_range_loop)]
            for j in 0..h {
                let (i, f, g, o) = (di[j], df[j], dg[j], d_o[j]);
                let tc = tc[j];
                let dhv = dh[j] + dhn[j];
                let dc = dcn[j] + dhv * o * (F::ONE - tc * tc);
                dcn[j] = dc * f;
                di[j] = dc * g * i * (F::ONE - i);
                df[j] = dc * cp[j] * f * (F::ONE - f);
                dg[j] = dc * i * (F::ONE - g * g);
                d_o[j] = dhv * tc * o * (F::ONE - o);
            }
        }
        if t > 0 {
            dh_next.fill(F::ZERO);
            pack_a::<F, K>(zt, (batch, g4), (g4, 1), pack);
            K::gemm((batch, h, g4), pack, wh_t, h, dh_next, h);
        }
    }
    let dz = &cache.gates[..rows * g4];
    for row in dz.chunks_exact(g4) {
        for (gb, &v) in g_b.iter_mut().zip(row) {
            *gb += v;
        }
    }
    pack_a::<F, K>(x, (d, rows), (1, d), pack);
    K::gemm((d, g4, rows), pack, dz, g4, g_wx, g4);
    let prev = (steps - 1) * batch;
    pack_a::<F, K>(&cache.h, (h, prev), (1, h), pack);
    K::gemm((h, g4, prev), pack, &dz[batch * g4..], g4, g_wh, g4);
    if let Some(dx) = dx {
        pack_a::<F, K>(dz, (rows, g4), (g4, 1), pack);
        K::gemm((rows, d, g4), pack, wx_t, d, dx, d);
    }
}

// The public entry points pick the widest kernel the CPU runs: AVX-512 (`8 x 32` blocks), AVX2
// (`4 x 16`) or the baseline (`4 x 8`). All give identical results (no FMA contraction, the same
// summation order), so a seed gives the same model on any path.
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
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                unsafe { self.forward_avx512(x, steps, batch, ws) };
                return &ws.out;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                unsafe { self.forward_avx2(x, steps, batch, ws) };
                return &ws.out;
            }
        }
        self.forward_impl::<Portable>(x, steps, batch, ws);
        &ws.out
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn forward_avx512(&self, x: &[F], steps: usize, batch: usize, ws: &mut Workspace<F>) {
        self.forward_impl::<Avx512>(x, steps, batch, ws);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(&self, x: &[F], steps: usize, batch: usize, ws: &mut Workspace<F>) {
        self.forward_impl::<Avx2>(x, steps, batch, ws);
    }

    #[inline(always)]
    fn forward_impl<K: Kernel>(&self, x: &[F], steps: usize, batch: usize, ws: &mut Workspace<F>) {
        let s = self.shape;
        assert_eq!(
            x.len(),
            steps * batch * s.input,
            "input is steps x batch x features"
        );
        assert!(steps > 0, "at least one step");
        let (l1, l2) = self.layers();
        ws.l1.resize(steps, batch, s.hidden1);
        ws.l2.resize(steps, batch, s.hidden2);
        lstm_forward::<F, K>(&l1, x, (steps, batch), &mut ws.l1, &mut ws.pack);
        lstm_forward::<F, K>(&l2, &ws.l1.h, (steps, batch), &mut ws.l2, &mut ws.pack);
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
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { self.loss_and_grad_avx512(x, y, steps, batch, ws, grad) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { self.loss_and_grad_avx2(x, y, steps, batch, ws, grad) };
            }
        }
        self.loss_and_grad_impl::<Portable>(x, y, steps, batch, ws, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn loss_and_grad_avx512(
        &self,
        x: &[F],
        y: &[F],
        steps: usize,
        batch: usize,
        ws: &mut Workspace<F>,
        grad: &mut [F],
    ) -> F {
        self.loss_and_grad_impl::<Avx512>(x, y, steps, batch, ws, grad)
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
        self.loss_and_grad_impl::<Avx2>(x, y, steps, batch, ws, grad)
    }

    #[inline(always)]
    fn loss_and_grad_impl<K: Kernel>(
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
        self.forward_impl::<K>(x, steps, batch, ws);
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
            lstm_backward::<F, K>(
                &l2,
                &ws.l1.h,
                (steps, batch),
                &mut ws.l2,
                &ws.d_h2,
                (g_wx, g_wh, g_b),
                Some(&mut ws.d_h1),
                (&mut ws.pack, &mut ws.dh_next, &mut ws.dc_next),
                (&ws.l2_wx_t, &ws.l2_wh_t),
            );
        }
        let (g_wx, rest) = g1.split_at_mut(lay.l1_wh);
        let (g_wh, g_b) = rest.split_at_mut(lay.l1_b - lay.l1_wh);
        lstm_backward::<F, K>(
            &l1,
            x,
            (steps, batch),
            &mut ws.l1,
            &ws.d_h1,
            (g_wx, g_wh, g_b),
            None,
            (&mut ws.pack, &mut ws.dh_next, &mut ws.dc_next),
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

mod gemm;

#[cfg(test)]
mod tests;
