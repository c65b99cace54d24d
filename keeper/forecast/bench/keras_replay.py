#!/usr/bin/env python3
"""Trains the seed's Keras model from a Rust run's initial weights on the Rust run's batches
(benchmark tooling, not a test). The JSON comes from flex-forecast's `keras_replay` bench:

  cargo bench -p flex-forecast --bench keras_replay -- CSV WINDOW EPOCHS SEED > run.json
  ~/.cache/flex/venv-tf/bin/python keeper/forecast/bench/keras_replay.py CSV TARGET WINDOW TRANSFORM run.json

Each epoch is one `fit` call on the training samples in the Rust run's order, batch 32, no
shuffling (Adam's state carries over between calls). Prints the held-out MSE to compare with the
Rust bench's for the same seed: equal errors mean the two implementations train alike and only
their random draws (initialisation, shuffling) differ.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_reference import create_lstm_model, prepare, test_errors  # noqa: E402


def main():
    path, target, window, transform, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    with open(run) as f:
        r = json.load(f)
    assert r["window"] == window, "the run's window differs"
    d = prepare(path, target, window, transform)
    assert r["train"] == d["train"], "the run's training samples differ"
    tf.keras.utils.set_random_seed(r["seed"])
    n = len(d["columns"])
    model = create_lstm_model((window, n))
    h1, h2 = 64, 32
    shapes = [(n, 4 * h1), (h1, 4 * h1), (4 * h1,), (h1, 4 * h2), (h2, 4 * h2), (4 * h2,), (h2, 1), (1,)]
    model.set_weights([np.asarray(w, dtype=np.float32).reshape(s) for w, s in zip(r["weights"], shapes)])
    loss = []
    for order in r["orders"]:
        hist = model.fit(d["x_tr"][order], d["y_tr"][order], epochs=1, batch_size=32, shuffle=False, verbose=0)
        loss.append(hist.history["loss"][-1])
    mse_n, mse = test_errors(model, d)
    print(f"replay seed={r['seed']} epochs={len(r['orders'])} final_train_loss={loss[-1]:.5f} test_mse_normalised={mse_n:.5f} test_mse={mse:.6e}")


if __name__ == "__main__":
    main()
