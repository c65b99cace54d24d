use super::*;

fn tiny() -> Network<f64> {
    // LSTM(1) -> LSTM(1) -> Dense(1) on one feature; gate order i, f, g, o.
    let shape = Shape {
        input: 1,
        hidden1: 1,
        hidden2: 1,
    };
    let mut params = Vec::new();
    params.extend([0.5, -0.25, 0.75, 1.0]); // l1 wx
    params.extend([0.1, 0.2, -0.3, 0.4]); // l1 wh
    params.extend([0.0, 1.0, 0.0, 0.0]); // l1 b
    params.extend([-0.6, 0.3, 0.9, 0.2]); // l2 wx
    params.extend([0.5, -0.5, 0.25, 0.1]); // l2 wh
    params.extend([0.1, 1.0, -0.1, 0.0]); // l2 b
    params.extend([1.5, -0.2]); // dense w, b
    assert_eq!(params.len(), Layout::new(shape).len);
    Network { shape, params }
}

#[test]
fn cell_forward_matches_hand_computation() {
    // Step 1 of layer 1 with x = 0.5, h = c = 0: z = b + wx * x = (0.25, 0.875, 0.375, 0.5);
    // i = s(0.25) = 0.5621765, f = s(0.875), g = tanh(0.375) = 0.3583574, o = s(0.5) = 0.6224593;
    // c = i * g = 0.2014601; h = o * tanh(c) = 0.1237313. Step 2 (x = -1) and layer 2 the same
    // way, written out in double precision; output = 1.5 * h2[last] - 0.2.
    let net = tiny();
    let mut ws = Workspace::default();
    let out = net.forward(&[0.5, -1.0], 2, 1, &mut ws).to_vec();
    let h1 = [0.12373130917646843, -0.025691869518105852];
    let h2 = [0.0029115450496113465, -0.030017306125241918];
    for t in 0..2 {
        assert!((ws.l1.h[t] - h1[t]).abs() < 1e-15, "layer 1 step {t}");
        assert!((ws.l2.h[t] - h2[t]).abs() < 1e-15, "layer 2 step {t}");
    }
    assert!((out[0] - -0.24502595918786288).abs() < 1e-15);
    assert!((ws.l1.c[0] - 0.2014601).abs() < 1e-6);
    assert!((ws.l1.h[0] - 0.1237313).abs() < 1e-6);
}

fn sample(n: usize, rng: &mut Rng) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

#[test]
fn gradient_matches_finite_differences() {
    let shape = Shape {
        input: 2,
        hidden1: 3,
        hidden2: 2,
    };
    let mut net = Network::<f64>::new(shape, 7);
    let mut rng = Rng::new(99);
    // Move every parameter off Keras' init so every path carries gradient.
    for p in net.params.iter_mut() {
        *p += 0.3 * rng.normal();
    }
    let (steps, batch) = (4, 3);
    let x = sample(steps * batch * shape.input, &mut rng);
    let y = sample(batch, &mut rng);
    let mut ws = Workspace::default();
    let mut grad = vec![0.0; net.params.len()];
    net.loss_and_grad(&x, &y, steps, batch, &mut ws, &mut grad);
    let eps = 1e-6;
    let mut scratch = vec![0.0; net.params.len()];
    for (k, &analytic) in grad.iter().enumerate() {
        let orig = net.params[k];
        net.params[k] = orig + eps;
        let up = net.loss_and_grad(&x, &y, steps, batch, &mut ws, &mut scratch);
        net.params[k] = orig - eps;
        let down = net.loss_and_grad(&x, &y, steps, batch, &mut ws, &mut scratch);
        net.params[k] = orig;
        let numeric = (up - down) / (2.0 * eps);
        let err = (numeric - analytic).abs() / (numeric.abs() + analytic.abs()).max(1e-6);
        assert!(err < 1e-5, "param {k}: analytic {analytic} numeric {numeric}");
    }
}

#[test]
fn adam_step_matches_keras_formula() {
    let mut p = vec![1.0f64, -2.0];
    let mut adam = Adam::new(2, 0.1);
    adam.step(&mut p, &[0.5, -4.0]);
    // First step: m = 0.1 g, v = 0.001 g^2, lr_t = lr * sqrt(1 - 0.999) / (1 - 0.9).
    let lr_t = 0.1 * 0.001f64.sqrt() / 0.1;
    let exp0 = 1.0 - lr_t * 0.05 / ((0.001f64 * 0.25).sqrt() + 1e-7);
    let exp1 = -2.0 + lr_t * 0.4 / ((0.001f64 * 16.0).sqrt() + 1e-7);
    assert!((p[0] - exp0).abs() < 1e-12);
    assert!((p[1] - exp1).abs() < 1e-12);
}

#[test]
fn init_is_seeded_and_keras_shaped() {
    let shape = Shape::seed(4);
    let a = Network::<f32>::new(shape, 1);
    let b = Network::<f32>::new(shape, 1);
    let c = Network::<f32>::new(shape, 2);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let lay = a.layout();
    let h = shape.hidden1;
    let bias = &a.params[lay.l1_b..lay.l2_wx];
    assert!(bias[..h].iter().all(|&v| v == 0.0));
    assert!(bias[h..2 * h].iter().all(|&v| v == 1.0));
    let wh = &a.params[lay.l1_wh..lay.l1_b];
    for r in 0..3 {
        for q in 0..3 {
            let d: f32 = (0..4 * h).map(|k| wh[r * 4 * h + k] * wh[q * 4 * h + k]).sum();
            let want = if r == q { 1.0 } else { 0.0 };
            assert!((d - want).abs() < 1e-5, "rows {r},{q}: {d}");
        }
    }
}

#[test]
fn training_reduces_loss_on_a_learnable_batch() {
    let shape = Shape {
        input: 1,
        hidden1: 8,
        hidden2: 4,
    };
    let mut net = Network::<f32>::new(shape, 3);
    let (steps, batch) = (5, 8);
    let mut rng = Rng::new(5);
    let xs: Vec<f32> = (0..steps * batch).map(|_| rng.normal() as f32).collect();
    // Target: the window's mean.
    let y: Vec<f32> = (0..batch)
        .map(|r| (0..steps).map(|t| xs[t * batch + r]).sum::<f32>() / 5.0)
        .collect();
    let mut ws = Workspace::default();
    let mut grad = vec![0.0; net.params.len()];
    let mut adam = Adam::new(net.params.len(), 1e-2);
    let first = net.loss_and_grad(&xs, &y, steps, batch, &mut ws, &mut grad);
    let mut last = first;
    for _ in 0..300 {
        last = net.loss_and_grad(&xs, &y, steps, batch, &mut ws, &mut grad);
        adam.step(&mut net.params, &grad);
    }
    assert!(last < first * 0.05, "{first} -> {last}");
}

#[test]
fn fast_activations_are_accurate() {
    let mut worst_exp: f64 = 0.0;
    let mut worst_act: f64 = 0.0;
    for k in -8000..=8000 {
        let x = k as f32 * 0.01;
        let e = f64::from(fast_exp(x));
        let want = f64::from(x).exp();
        worst_exp = worst_exp.max((e - want).abs() / want);
        let s = f64::from(x.sigmoid()) - 1.0 / (1.0 + (-f64::from(x)).exp());
        let t = f64::from(x.tanh_act()) - f64::from(x).tanh();
        worst_act = worst_act.max(s.abs()).max(t.abs());
    }
    assert!(worst_exp < 5e-7, "exp {worst_exp}");
    assert!(worst_act < 5e-7, "activations {worst_act}");
    assert_eq!(fast_exp(-1000.0), fast_exp(-87.0));
    assert!(fast_exp(1000.0).is_finite());
}

#[test]
fn vector_paths_agree_bit_for_bit() {
    let shape = Shape::seed(3);
    let net = Network::<f32>::new(shape, 11);
    let mut rng = Rng::new(1);
    let (steps, batch) = (6, 13);
    let x: Vec<f32> = (0..steps * batch * 3).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..batch).map(|_| rng.normal() as f32).collect();
    let (mut ws1, mut ws2) = (Workspace::default(), Workspace::default());
    let (mut g1, mut g2) = (vec![0.0; net.params.len()], vec![0.0; net.params.len()]);
    let l1 = net.loss_and_grad_impl::<gemm::Portable>(&x, &y, steps, batch, &mut ws1, &mut g1);
    let l2 = net.loss_and_grad(&x, &y, steps, batch, &mut ws2, &mut g2);
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert!(g1.iter().zip(&g2).all(|(a, b)| a.to_bits() == b.to_bits()));
    // The AVX2 kernel as well, where the dispatch above picked AVX-512.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let mut g3 = vec![0.0; net.params.len()];
        let l3 = net.loss_and_grad_impl::<gemm::Avx2>(&x, &y, steps, batch, &mut ws2, &mut g3);
        assert_eq!(l1.to_bits(), l3.to_bits());
        assert!(g1.iter().zip(&g3).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn init_matches_keras_defaults_in_both_layers() {
    // Keras LSTM: kernel glorot_uniform over (input, 4h), recurrent kernel orthogonal (h x 4h,
    // orthonormal rows), bias zeros with unit_forget_bias; Dense: glorot_uniform kernel, zero bias.
    let shape = Shape::seed(4);
    let net = Network::<f64>::new(shape, 5);
    let lay = net.layout();
    let p = &net.params;
    let layers = [
        (shape.input, shape.hidden1, lay.l1_wx, lay.l1_wh, lay.l1_b),
        (shape.hidden1, shape.hidden2, lay.l2_wx, lay.l2_wh, lay.l2_b),
    ];
    for (input, h, wx, wh, b) in layers {
        let limit = (6.0 / (input + 4 * h) as f64).sqrt();
        let k = &p[wx..wx + input * 4 * h];
        assert!(
            k.iter().all(|v| v.abs() <= limit),
            "kernel within the Glorot limit"
        );
        // Uniform on [-limit, limit]: variance limit^2 / 3.
        let var = k.iter().map(|v| v * v).sum::<f64>() / k.len() as f64;
        let want = limit * limit / 3.0;
        assert!(
            (var - want).abs() < 0.15 * want,
            "kernel variance {var} vs {want}"
        );
        let r = &p[wh..wh + h * 4 * h];
        for a in 0..h {
            for c in 0..h {
                let d: f64 = (0..4 * h).map(|j| r[a * 4 * h + j] * r[c * 4 * h + j]).sum();
                let want = if a == c { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-12, "recurrent rows {a},{c}: {d}");
            }
        }
        let bias = &p[b..b + 4 * h];
        for (j, &v) in bias.iter().enumerate() {
            let want = if (h..2 * h).contains(&j) { 1.0 } else { 0.0 };
            assert_eq!(v, want, "bias {j} (forget gate is h..2h)");
        }
    }
    let limit = (6.0 / (shape.hidden2 + 1) as f64).sqrt();
    assert!(p[lay.d_w..lay.d_b].iter().all(|v| v.abs() <= limit));
    assert!(p[lay.d_w..lay.d_b].iter().any(|&v| v != 0.0));
    assert_eq!(p[lay.d_b], 0.0);
}

#[test]
fn a_batch_gives_each_sample_its_own_output_bit_for_bit() {
    // The batched products sum every element in the same order whatever the batch size, so a
    // sample's output does not depend on its batch-mates (33 rows: a partial kernel panel too).
    let shape = Shape::seed(3);
    let net = Network::<f32>::new(shape, 2);
    let mut rng = Rng::new(8);
    let (steps, batch) = (5, 33);
    let x: Vec<f32> = (0..steps * batch * 3).map(|_| rng.normal() as f32).collect();
    let mut ws = Workspace::default();
    let all = net.forward(&x, steps, batch, &mut ws).to_vec();
    for r in [0, 7, 32] {
        let one: Vec<f32> = (0..steps)
            .flat_map(|t| x[(t * batch + r) * 3..(t * batch + r + 1) * 3].to_vec())
            .collect();
        let mut ws1 = Workspace::default();
        let out = net.forward(&one, steps, 1, &mut ws1)[0];
        assert_eq!(out.to_bits(), all[r].to_bits(), "sample {r}");
    }
}
