//! Small dense products for the LSTM's batched passes: `C += A B`, with `A` packed into panels
//! of `MR` rows and a register-blocked kernel of plain multiplies and adds (no fused
//! multiply-add): `8 x 32` blocks with AVX-512, `4 x 16` with AVX2 (both written with
//! `std::arch` intrinsics for `f32`), `4 x 8` portable Rust otherwise (and for `f64`).
//!
//! Every element of `C` ends as its initial value plus the products `A[i][p] B[p][j]` added one
//! at a time in increasing `p`, in every kernel and whatever the block or vector width, so the
//! portable, AVX2 and AVX-512 paths give the same bits and a seed gives the same model on any
//! x86-64 CPU.

use super::Real;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_storeu_ps, _mm512_add_ps, _mm512_loadu_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};

/// Packs the `m x k` matrix `A`, element `(i, p)` at `a[i * rs + p * cs]`, into panels of `MR`
/// rows: panel `q` holds `A[q MR + r][p]` at `out[(q k + p) MR + r]`; rows past `m` are zero.
/// A transposed operand is packed with `rs = 1`.
#[inline(always)]
pub(super) fn pack_a<F: Real, K: Kernel>(
    a: &[F],
    (m, k): (usize, usize),
    (rs, cs): (usize, usize),
    out: &mut Vec<F>,
) {
    const { assert!(K::MR > 0) };
    let mr = K::MR;
    out.clear();
    if m == 0 || k == 0 {
        return;
    }
    out.resize(m.div_ceil(mr) * k * mr, F::ZERO);
    for (q, panel) in out.chunks_exact_mut(k * mr).enumerate() {
        let rows = mr.min(m - q * mr);
        if rs == 1 {
            // Transposed source: the panel's rows are adjacent at each `p`.
            for (p, dst) in panel.chunks_exact_mut(mr).enumerate() {
                let src = &a[q * mr + p * cs..][..rows];
                dst[..rows].copy_from_slice(src);
            }
        } else {
            for r in 0..rows {
                let row = q * mr + r;
                for (p, dst) in panel.chunks_exact_mut(mr).enumerate() {
                    dst[r] = a[row * rs + p * cs];
                }
            }
        }
    }
}

/// A matrix-product kernel for one instruction set.
pub(super) trait Kernel {
    /// Rows per packed panel of `A`.
    const MR: usize;
    /// `C += A B`: `A` (`m x k`) packed by [`pack_a`] for this kernel, `B` (`k x n`) row-major
    /// with row stride `ldb`, `C` (`m x n`) row-major with row stride `ldc`.
    fn gemm<F: Real>(mnk: (usize, usize, usize), ap: &[F], b: &[F], ldb: usize, c: &mut [F], ldc: usize);
}

/// Any CPU: `4 x 8` blocks in portable Rust.
pub(super) struct Portable;

impl Kernel for Portable {
    const MR: usize = 4;
    #[inline(never)]
    fn gemm<F: Real>(mnk: (usize, usize, usize), ap: &[F], b: &[F], ldb: usize, c: &mut [F], ldc: usize) {
        gemm::<F, 4, 8>(mnk, ap, b, ldb, c, ldc);
    }
}

/// AVX2: `4 x 16` blocks, two 8-lane registers per row.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx2 {
    const MR: usize = 4;
    #[inline(always)]
    fn gemm<F: Real>(mnk: (usize, usize, usize), ap: &[F], b: &[F], ldb: usize, c: &mut [F], ldc: usize) {
        check::<F>(mnk, Self::MR, ap, b, ldb, c, ldc);
        if let (Some(ap), Some(b), Ok(c)) = (F::as_f32(ap), F::as_f32(b), F::as_f32_mut(&mut *c)) {
            // SAFETY: `Avx2` is only used on paths entered after checking that the CPU has AVX2
            // (`Network::forward` and `Network::loss_and_grad`); `check` proved the bounds.
            unsafe { sgemm_avx2(mnk, ap, b, ldb, c, ldc) };
            return;
        }
        gemm::<F, 4, 16>(mnk, ap, b, ldb, c, ldc);
    }
}

/// AVX-512: `8 x 32` blocks, two 16-lane registers per row (16 accumulators).
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx512 {
    const MR: usize = 8;
    #[inline(always)]
    fn gemm<F: Real>(mnk: (usize, usize, usize), ap: &[F], b: &[F], ldb: usize, c: &mut [F], ldc: usize) {
        check::<F>(mnk, Self::MR, ap, b, ldb, c, ldc);
        if let (Some(ap), Some(b), Ok(c)) = (F::as_f32(ap), F::as_f32(b), F::as_f32_mut(&mut *c)) {
            // SAFETY: `Avx512` is only used on paths entered after checking that the CPU has
            // AVX-512F (`Network::forward` and `Network::loss_and_grad`); `check` proved the
            // bounds.
            unsafe { sgemm_avx512(mnk, ap, b, ldb, c, ldc) };
            return;
        }
        gemm::<F, 8, 32>(mnk, ap, b, ldb, c, ldc);
    }
}

/// The operands' lengths cover every element the product touches (the vector kernels rely on it).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn check<F>((m, n, k): (usize, usize, usize), mr: usize, ap: &[F], b: &[F], ldb: usize, c: &[F], ldc: usize) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(ap.len() >= m.div_ceil(mr) * k * mr, "packed A too short");
    assert!(ldb >= n && b.len() >= (k - 1) * ldb + n, "B too short");
    assert!(ldc >= n && c.len() >= (m - 1) * ldc + n, "C too short");
}

/// Columns `j0..n` one element at a time, in the same order as the blocks.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tail<F: Real>(
    (m, n, k): (usize, usize, usize),
    mr: usize,
    j0: usize,
    ap: &[F],
    b: &[F],
    ldb: usize,
    c: &mut [F],
    ldc: usize,
) {
    for j in j0..n {
        for i in 0..m {
            let (q, r) = (i / mr, i % mr);
            let panel = &ap[q * k * mr..(q + 1) * k * mr];
            let mut s = c[i * ldc + j];
            for (p, a) in panel.chunks_exact(mr).enumerate() {
                s += a[r] * b[p * ldb + j];
            }
            c[i * ldc + j] = s;
        }
    }
}

/// The portable blocked product (fixed-size arrays the compiler may vectorise).
#[inline(always)]
fn gemm<F: Real, const MR: usize, const NR: usize>(
    (m, n, k): (usize, usize, usize),
    ap: &[F],
    b: &[F],
    ldb: usize,
    c: &mut [F],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let panels = m.div_ceil(MR);
    let full = n / NR * NR;
    for j0 in (0..full).step_by(NR) {
        for (q, panel) in ap.chunks_exact(k * MR).take(panels).enumerate() {
            let rows = MR.min(m - q * MR);
            let mut acc = [[F::ZERO; NR]; MR];
            for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                acc.copy_from_slice(&c[(q * MR + r) * ldc + j0..][..NR]);
            }
            for (p, a) in panel.chunks_exact(MR).enumerate() {
                let brow = &b[p * ldb + j0..p * ldb + j0 + NR];
                for (acc, &av) in acc.iter_mut().zip(a) {
                    for (s, &bv) in acc.iter_mut().zip(brow) {
                        *s += av * bv;
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                c[(q * MR + r) * ldc + j0..][..NR].copy_from_slice(acc);
            }
        }
    }
    tail((m, n, k), MR, full, ap, b, ldb, c, ldc);
}

/// One `8 x 16V` block of the AVX-512 product at columns `j0..j0 + 16 V`.
///
/// # Safety
/// The CPU has AVX-512F; [`check`] holds for the operands and `j0 + 16 V <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_avx512<const V: usize>(
    (m, k): (usize, usize),
    q: usize,
    j0: usize,
    ap: &[f32],
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    const MR: usize = 8;
    let rows = MR.min(m - q * MR);
    let panel = &ap[q * k * MR..(q + 1) * k * MR];
    let mut acc = [[_mm512_setzero_ps(); V]; MR];
    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
        let row = c[(q * MR + r) * ldc + j0..][..16 * V].as_ptr();
        for (v, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `row` points at 16 V floats.
            *acc = unsafe { _mm512_loadu_ps(row.add(16 * v)) };
        }
    }
    for (p, a) in panel.chunks_exact(MR).enumerate() {
        let brow = b[p * ldb + j0..][..16 * V].as_ptr();
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, bv) in bv.iter_mut().enumerate() {
            // SAFETY: `brow` points at 16 V floats.
            *bv = unsafe { _mm512_loadu_ps(brow.add(16 * v)) };
        }
        for (acc, &av) in acc.iter_mut().zip(a) {
            let av = _mm512_set1_ps(av);
            for (acc, &bv) in acc.iter_mut().zip(&bv) {
                *acc = _mm512_add_ps(*acc, _mm512_mul_ps(av, bv));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate().take(rows) {
        let row = c[(q * MR + r) * ldc + j0..][..16 * V].as_mut_ptr();
        for (v, &acc) in acc.iter().enumerate() {
            // SAFETY: `row` points at 16 V floats.
            unsafe { _mm512_storeu_ps(row.add(16 * v), acc) };
        }
    }
}

/// # Safety
/// The CPU has AVX-512F and [`check`] holds for the operands (`MR = 8`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn sgemm_avx512(
    (m, n, k): (usize, usize, usize),
    ap: &[f32],
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let panels = m.div_ceil(8);
    let mut j0 = 0;
    while j0 + 32 <= n {
        for q in 0..panels {
            // SAFETY: the caller's contract, and `j0 + 32 <= n`.
            unsafe { block_avx512::<2>((m, k), q, j0, ap, b, ldb, c, ldc) };
        }
        j0 += 32;
    }
    if j0 + 16 <= n {
        for q in 0..panels {
            // SAFETY: the caller's contract, and `j0 + 16 <= n`.
            unsafe { block_avx512::<1>((m, k), q, j0, ap, b, ldb, c, ldc) };
        }
        j0 += 16;
    }
    tail((m, n, k), 8, j0, ap, b, ldb, c, ldc);
}

/// One `4 x 8V` block of the AVX2 product at columns `j0..j0 + 8 V`.
///
/// # Safety
/// The CPU has AVX2; [`check`] holds for the operands and `j0 + 8 V <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_avx2<const V: usize>(
    (m, k): (usize, usize),
    q: usize,
    j0: usize,
    ap: &[f32],
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    const MR: usize = 4;
    let rows = MR.min(m - q * MR);
    let panel = &ap[q * k * MR..(q + 1) * k * MR];
    let mut acc: [[__m256; V]; MR] = [[_mm256_setzero_ps(); V]; MR];
    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
        let row = c[(q * MR + r) * ldc + j0..][..8 * V].as_ptr();
        for (v, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `row` points at 8 V floats.
            *acc = unsafe { _mm256_loadu_ps(row.add(8 * v)) };
        }
    }
    for (p, a) in panel.chunks_exact(MR).enumerate() {
        let brow = b[p * ldb + j0..][..8 * V].as_ptr();
        let mut bv = [_mm256_setzero_ps(); V];
        for (v, bv) in bv.iter_mut().enumerate() {
            // SAFETY: `brow` points at 8 V floats.
            *bv = unsafe { _mm256_loadu_ps(brow.add(8 * v)) };
        }
        for (acc, &av) in acc.iter_mut().zip(a) {
            let av = _mm256_set1_ps(av);
            for (acc, &bv) in acc.iter_mut().zip(&bv) {
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(av, bv));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate().take(rows) {
        let row = c[(q * MR + r) * ldc + j0..][..8 * V].as_mut_ptr();
        for (v, &acc) in acc.iter().enumerate() {
            // SAFETY: `row` points at 8 V floats.
            unsafe { _mm256_storeu_ps(row.add(8 * v), acc) };
        }
    }
}

/// # Safety
/// The CPU has AVX2 and [`check`] holds for the operands (`MR = 4`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
unsafe fn sgemm_avx2(
    (m, n, k): (usize, usize, usize),
    ap: &[f32],
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let panels = m.div_ceil(4);
    let mut j0 = 0;
    while j0 + 16 <= n {
        for q in 0..panels {
            // SAFETY: the caller's contract, and `j0 + 16 <= n`.
            unsafe { block_avx2::<2>((m, k), q, j0, ap, b, ldb, c, ldc) };
        }
        j0 += 16;
    }
    if j0 + 8 <= n {
        for q in 0..panels {
            // SAFETY: the caller's contract, and `j0 + 8 <= n`.
            unsafe { block_avx2::<1>((m, k), q, j0, ap, b, ldb, c, ldc) };
        }
        j0 += 8;
    }
    tail((m, n, k), 4, j0, ap, b, ldb, c, ldc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// `C += A B` element by element in increasing `p`: the order every kernel promises.
    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        for i in 0..m {
            for j in 0..n {
                let mut s = c[i * n + j];
                for p in 0..k {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = s;
            }
        }
    }

    fn run<K: Kernel>(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32], transposed: bool) {
        let mut ap = Vec::new();
        if transposed {
            // The same A stored as its transpose (k x m).
            let mut at = vec![0.0; m * k];
            for i in 0..m {
                for p in 0..k {
                    at[p * m + i] = a[i * k + p];
                }
            }
            pack_a::<f32, K>(&at, (m, k), (1, m), &mut ap);
        } else {
            pack_a::<f32, K>(a, (m, k), (k, 1), &mut ap);
        }
        K::gemm((m, n, k), &ap, b, n, c, n);
    }

    #[test]
    fn every_kernel_matches_the_naive_product_bit_for_bit() {
        let mut rng = Rng::new(3);
        // Shapes with full blocks, 16- and 8-wide remainders, scalar tails and partial panels.
        for &(m, n, k) in &[
            (32, 256, 64),
            (13, 57, 9),
            (1, 1, 1),
            (9, 48, 3),
            (448, 64, 128),
            (4, 24, 416),
            (7, 5, 2),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal() as f32).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.normal() as f32).collect();
            let mut want = c0.clone();
            naive(m, n, k, &a, &b, &mut want);
            for transposed in [false, true] {
                let mut got = c0.clone();
                run::<Portable>(m, n, k, &a, &b, &mut got, transposed);
                assert!(
                    got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "portable {m}x{n}x{k}"
                );
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") {
                        let mut got = c0.clone();
                        run::<Avx2>(m, n, k, &a, &b, &mut got, transposed);
                        assert!(
                            got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "avx2 {m}x{n}x{k}"
                        );
                    }
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        let mut got = c0.clone();
                        run::<Avx512>(m, n, k, &a, &b, &mut got, transposed);
                        assert!(
                            got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "avx512 {m}x{n}x{k}"
                        );
                    }
                }
            }
        }
    }
}
