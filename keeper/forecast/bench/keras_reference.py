#!/usr/bin/env python3
"""Reference run of the seed's Keras model (benchmark, not a test).

Same data, window, split, normalisation, batch size and epochs as flex-forecast's `train` bench
(keeper/forecast/benches/train.rs), so the two print comparable figures:

  sample k feeds rows k..k+window (all columns) and predicts the target at row k+window;
  the first floor(samples * 0.8) samples train, the rest are held out (chronological);
  with TRANSFORM log1p (the default, as in the Rust bench), a column whose training rows
  (0..train+window) are all >= 0 is first mapped by log1p(max(v, 0)), and predictions are mapped
  back by expm1; then every column is z-scored with mean / population std over rows
  0..train+window (std 0 -> 1).

Setup (CPU TensorFlow from PyPI):
  python3 -m venv ~/.cache/flex/venv-tf
  ~/.cache/flex/venv-tf/bin/pip install tensorflow-cpu statsmodels
Run:
  ~/.cache/flex/venv-tf/bin/python keeper/forecast/bench/keras_reference.py CSV TARGET WINDOW EPOCHS [SEED [TRANSFORM]]
"""

import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras.layers import LSTM, Dense, Input  # noqa: E402
from tensorflow.keras.models import Sequential  # noqa: E402


def create_lstm_model(input_shape):
    # The seed's model, verbatim but for an explicit Input layer (Keras 3 style).
    model = Sequential([
        Input(shape=input_shape),
        LSTM(64, return_sequences=True),
        LSTM(32, return_sequences=False),
        Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    return model


def read_csv(path):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    header = lines[0].split(",")
    rows = np.array([[float(x) for x in l.split(",")] for l in lines[1:]], dtype=np.float64)
    return header[1:], rows[:, 1:]


def prepare(path, target, window, transform):
    """Windows, split and normalisation exactly as the module docstring says."""
    columns, data = read_csv(path)
    col = columns.index(target)
    samples = len(data) - window
    train = math.floor(samples * 0.8)
    raw = data
    log = np.array([transform == "log1p" and bool((data[: train + window, c] >= 0).all()) for c in range(data.shape[1])])
    data = np.where(log, np.log1p(np.maximum(raw, 0.0)), raw)
    fit_rows = data[: train + window]
    mean = fit_rows.mean(axis=0)
    std = fit_rows.std(axis=0)
    std[std == 0] = 1.0
    norm = (data - mean) / std
    x = np.stack([norm[k : k + window] for k in range(samples)]).astype(np.float32)
    y = norm[window:, col].astype(np.float32)
    return {
        "columns": columns, "col": col, "train": train, "window": window, "raw": raw, "log": log,
        "mean": mean, "std": std, "x_tr": x[:train], "y_tr": y[:train], "x_te": x[train:], "y_te": y[train:],
    }


def test_errors(model, d):
    """Held-out MSE in normalised units and in the target's own units."""
    col, window, train = d["col"], d["window"], d["train"]
    pred = model.predict(d["x_te"], batch_size=256, verbose=0)[:, 0].astype(np.float64)
    mse_n = float(np.mean((pred - d["y_te"].astype(np.float64)) ** 2))
    truth = d["raw"][window + train :, col]
    back = pred * d["std"][col] + d["mean"][col]
    if d["log"][col]:
        back = np.expm1(back)
    return mse_n, float(np.mean((back - truth) ** 2))


class EpochTimer(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []
        self.cpu = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()
        self.c = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t)
        self.cpu.append(time.process_time() - self.c)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "keeper/forecast/data/synthetic_epochs.csv"
    target = sys.argv[2] if len(sys.argv) > 2 else "reward_per_active"
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 14
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    transform = sys.argv[6] if len(sys.argv) > 6 else "log1p"
    assert transform in ("none", "log1p"), transform
    tf.keras.utils.set_random_seed(seed)

    d = prepare(path, target, window, transform)
    columns, train, x_tr, y_tr, x_te, y_te = d["columns"], d["train"], d["x_tr"], d["y_tr"], d["x_te"], d["y_te"]

    model = create_lstm_model((window, len(columns)))
    timer = EpochTimer()
    t0 = time.perf_counter()
    hist = model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, shuffle=True, verbose=0, callbacks=[timer])
    total = time.perf_counter() - t0
    mse_n, mse = test_errors(model, d)
    # Mean over epochs after the first (the first includes graph tracing).
    steady = timer.times[1:] if len(timer.times) > 1 else timer.times
    cpu = timer.cpu[1:] if len(timer.cpu) > 1 else timer.cpu
    print(f"keras {path} target={target} window={window} epochs={epochs} seed={seed} transform={transform} train_samples={train} test_samples={len(y_te)}")
    print(f"keras tensorflow={tf.__version__} threads(intra)={tf.config.threading.get_intra_op_parallelism_threads()} cpus={os.cpu_count()}")
    print(
        f"keras seconds_per_epoch={sum(steady) / len(steady):.4f} (first epoch {timer.times[0]:.3f}s) "
        f"cpu_seconds_per_epoch={sum(cpu) / len(cpu):.4f} total={total:.2f}s final_train_loss={hist.history['loss'][-1]:.5f}"
    )
    print(f"keras test_mse_normalised={mse_n:.5f} test_mse={mse:.6e}")


if __name__ == "__main__":
    main()
