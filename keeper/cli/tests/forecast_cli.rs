//! `flex-keeper forecast synth | train | evaluate | predict` and `flex-keeper balance` end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run flex-keeper")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flex-keeper-forecast-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn synth_train_evaluate_predict() {
    let d = tempdir("flow");
    let hist = d.join("h.csv");
    let model = d.join("m.flxf");
    assert!(keeper(&[
        "forecast",
        "synth",
        "--epochs",
        "90",
        "--seed",
        "3",
        "--output",
        s(&hist)
    ])
    .status
    .success());
    let train = ok_json(&keeper(&[
        "forecast",
        "train",
        "--history",
        s(&hist),
        "--model",
        s(&model),
        "--window",
        "7",
        "--epochs",
        "2",
        "--transform",
        "log1p",
    ]));
    let targets = train["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["target"], "reward_per_active");
    assert_eq!(targets[1]["target"], "active");
    assert_eq!(targets[0]["baselines"].as_array().unwrap().len(), 3);
    let eval = ok_json(&keeper(&[
        "forecast",
        "evaluate",
        "--history",
        s(&hist),
        "--model",
        s(&model),
    ]));
    // The saved model re-scores exactly as it scored at training time.
    for k in 0..2 {
        assert_eq!(eval["targets"][k]["model_mse"], targets[k]["model_mse"]);
        assert_eq!(eval["targets"][k]["published"], targets[k]["published"]);
    }
    let pred = ok_json(&keeper(&[
        "forecast",
        "predict",
        "--history",
        s(&hist),
        "--model",
        s(&model),
    ]));
    for f in pred["forecasts"].as_array().unwrap() {
        assert_eq!(f["epoch"], 90);
        let v = f["value"].as_f64().unwrap();
        let bits: u128 = f["forecast_u64f64_bits"].as_str().unwrap().parse().unwrap();
        assert!((bits as f64 / 2f64.powi(64) - v.max(0.0)).abs() <= v.abs() * 1e-12 + 1e-18);
    }
    // Same seed, same weights, same forecasts (the files differ only in the recorded timings).
    let model2 = d.join("m2.flxf");
    ok_json(&keeper(&[
        "forecast",
        "train",
        "--history",
        s(&hist),
        "--model",
        s(&model2),
        "--window",
        "7",
        "--epochs",
        "2",
        "--transform",
        "log1p",
    ]));
    let pred2 = ok_json(&keeper(&[
        "forecast",
        "predict",
        "--history",
        s(&hist),
        "--model",
        s(&model2),
    ]));
    assert_eq!(pred, pred2);
}

#[test]
fn forecast_errors_name_the_file_and_line() {
    let d = tempdir("errors");
    let hist = d.join("bad.csv");
    std::fs::write(&hist, "epoch,pool\n0,1\n1,abc\n").unwrap();
    let out = keeper(&[
        "forecast",
        "train",
        "--history",
        s(&hist),
        "--model",
        s(&d.join("m")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:3") && err.contains("\"pool\""), "{err}");
    let garbage = d.join("garbage.flxf");
    std::fs::write(&garbage, vec![0u8; 200]).unwrap();
    std::fs::write(&hist, "epoch,pool\n0,1\n1,2\n").unwrap();
    let out = keeper(&[
        "forecast",
        "predict",
        "--history",
        s(&hist),
        "--model",
        s(&garbage),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("garbage.flxf"), "{err}");
}

#[test]
fn balance_prints_summary_and_assignment() {
    let d = tempdir("balance");
    let tasks = d.join("tasks.csv");
    let vals = d.join("validators.csv");
    let out_csv = d.join("assignment.csv");
    std::fs::write(&tasks, "id,complexity\na,4\nb,2\nc,2\n").unwrap();
    std::fs::write(&vals, "id,performance,capacity\nslow,1,\nfast,2,2\n").unwrap();
    let v = ok_json(&keeper(&[
        "balance",
        "--tasks",
        s(&tasks),
        "--validators",
        s(&vals),
        "--window",
        "2",
        "--output",
        s(&out_csv),
    ]));
    assert_eq!(v["tasks"], 3);
    assert!((v["stats"]["variance"].as_f64().unwrap() - 0.0625).abs() < 1e-12);
    assert!((v["stats"]["lower_bound"].as_f64().unwrap() - 4.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        std::fs::read_to_string(&out_csv).unwrap(),
        "task,validator\na,fast\nb,slow\nc,fast\n"
    );
    let online = ok_json(&keeper(&[
        "balance",
        "--tasks",
        s(&tasks),
        "--validators",
        s(&vals),
        "--online",
    ]));
    assert_eq!(online["method"], "online");

    std::fs::write(&vals, "id,performance\nslow,1\nfast,-2\n").unwrap();
    let out = keeper(&["balance", "--tasks", s(&tasks), "--validators", s(&vals)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("validators.csv:fast"),
        "{err}"
    );
    std::fs::write(&tasks, "id,complexity\na,4\nb,x\n").unwrap();
    let out = keeper(&["balance", "--tasks", s(&tasks), "--validators", s(&vals)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("tasks.csv:3"), "{err}");
}
