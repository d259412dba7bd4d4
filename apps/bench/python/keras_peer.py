"""Keras 3 peer of the bench: trains the backend suite's models with `model.fit`, one epoch per request.

Driven by apps/bench/src/keras/keras-peer.ts over a line protocol, one JSON object per line:

  peer -> driver, once:  {"ready": true, "tensorflow": "2.21.0", "keras": "3.15.1", "python": "3.12.3", "threads": 1}
                     or  {"ready": false, "reason": "..."}  (then it exits 3: no usable tensorflow/keras)
  driver -> peer:        {"model": "mlp", "steps": 48}
  peer -> driver:        {"model": "mlp", "steps": 48, "steps_per_s": 251.3, "seconds": 0.191}
                     or  {"error": "..."}  (the peer stays up)

The process is long-lived so that the driver can interleave its rounds with its own contenders: a model is built and
compiled on its first request and then trains one more epoch per request, as the tfjs contenders do. It exits when its
stdin closes. Only protocol lines go to stdout; anything a library prints goes to stderr.

Usage: python3 keras_peer.py --threads N   (TensorFlow's intra- and inter-op thread pools, set before anything runs)
"""

import argparse
import json
import os
import platform
import sys
import time

BATCH = 64
LEARNING_RATE = 1e-3
SEED = 7

# The protocol owns stdout; a stray print from a library must not corrupt it.
_protocol = sys.stdout
sys.stdout = sys.stderr


def send(message):
    _protocol.write(json.dumps(message) + "\n")
    _protocol.flush()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True, help="intra- and inter-op threads of TensorFlow")
    return parser.parse_args()


def import_keras(threads):
    """Imports TensorFlow, fixes its thread pools before any op runs, then imports Keras; returns (tf, keras)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    return tf, keras


def build(keras, name):
    """The backend suite's MODELS (apps/bench/src/suites/models.ts), Keras defaults otherwise."""
    layers = keras.layers
    if name == "mlp":
        model = keras.Sequential(
            [
                keras.Input((784,)),
                layers.Dense(256, activation="relu"),
                layers.Dense(256, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
        loss = "categorical_crossentropy"
    elif name == "cnn":
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.BatchNormalization(),
                layers.Flatten(),
                layers.Dense(10, activation="softmax"),
            ]
        )
        loss = "categorical_crossentropy"
    elif name == "lstm":
        model = keras.Sequential([keras.Input((32, 4)), layers.LSTM(64), layers.Dense(1)])
        loss = "mean_squared_error"
    elif name == "cnn_large":
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, 3, activation="relu"),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(128, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
        loss = "categorical_crossentropy"
    elif name == "gru":
        # tfjs-layers' GRU is reset-before (reset_after=False here; Keras 3 defaults to reset-after). Its recurrent
        # activation is named 'sigmoid' in models.ts (tfjs' default is a hard sigmoid), which is Keras' default: the
        # same function on both sides.
        model = keras.Sequential([keras.Input((32, 4)), layers.GRU(64, reset_after=False), layers.Dense(1)])
        loss = "mean_squared_error"
    else:
        raise ValueError(f'unknown model "{name}" (mlp, cnn, lstm, cnn_large or gru)')
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss=loss)
    return model, loss == "categorical_crossentropy"


def make_data(np, model, categorical, steps):
    """Random normal inputs; one-hot targets for a softmax output, normal targets otherwise (seeded)."""
    rng = np.random.default_rng(SEED)
    samples = steps * BATCH
    x = rng.standard_normal((samples, *model.input_shape[1:]), dtype=np.float32)
    outputs = model.output_shape[-1]
    if categorical:
        y = np.eye(outputs, dtype=np.float32)[rng.integers(0, outputs, samples)]
    else:
        y = rng.standard_normal((samples, outputs), dtype=np.float32)
    return x, y


def serve(keras, np):
    models = {}
    data = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            name = request["model"]
            steps = int(request["steps"])
            if steps < 1:
                raise ValueError(f"steps must be >= 1, got {steps}")
            if name not in models:
                models[name] = build(keras, name)
            model, categorical = models[name]
            if (name, steps) not in data:
                data[(name, steps)] = make_data(np, model, categorical, steps)
            x, y = data[(name, steps)]
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
            seconds = time.perf_counter() - start
            send({"model": name, "steps": steps, "steps_per_s": steps / seconds, "seconds": seconds})
        except Exception as error:  # the driver decides what a failed round means; the peer stays up
            send({"error": f"{type(error).__name__}: {error}"})


def main():
    args = parse_args()
    if args.threads < 1:
        send({"ready": False, "reason": f"--threads must be >= 1, got {args.threads}"})
        return 2
    try:
        tf, keras = import_keras(args.threads)
        import numpy as np
    except Exception as error:  # ImportError, or a broken install that fails while loading
        send({"ready": False, "reason": f"{type(error).__name__}: {error}"})
        return 3
    keras.utils.set_random_seed(SEED)
    send(
        {
            "ready": True,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
            "threads": tf.config.threading.get_intra_op_parallelism_threads(),
        }
    )
    serve(keras, np)
    return 0


if __name__ == "__main__":
    sys.exit(main())
