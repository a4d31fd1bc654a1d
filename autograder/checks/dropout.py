"""Checks for assignment 2, an MNIST MLP with a hand-written inverted dropout layer.

Models take images as float32 in [0, 1] of shape (None, 28, 28) and output class
probabilities (None, 10). Metric checks predict the MNIST test images and the grader judges the
predictions with the test labels (`judge_held_out`).
"""

import keras
import numpy as np

from .. import data
from .common import accuracy_of, check_compiled, check_output_shape, judge_exported, judge_held_out, record

# Measured with the reference notebook, `tools/calibrate.py 02 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   test accuracy:  seed 0: 0.9800  seed 1: 0.9789  seed 2: 0.9804  seed 3: 0.9779  seed 4: 0.9786
#   gap without dropout minus gap with dropout (train accuracy on the 1,000 images minus test accuracy):
#                   seed 0: 0.0115  seed 1: 0.0104  seed 2: 0.0147  seed 3: 0.0152  seed 4: 0.0155
#   (plain gaps 0.113-0.117, dropout gaps 0.100-0.105)
# Accuracy: worst run minus 0.2 points, above the 0.975 floor of the assignment's brief.
TEST_ACCURACY_THRESHOLD = 0.976
# Gap: worst run minus about half a point; dropout must narrow the gap by more than this.
GAP_REDUCTION_THRESHOLD = 0.005


def _scaling_input() -> np.ndarray:
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    images[0, 0, 0], images[1, 27, 27] = 0, 255
    return images


def check_scaling(scale_function) -> None:
    judge_exported("test_scaling", judge_scaling, scaled=scale_function(_scaling_input()))


def judge_scaling(arrays) -> None:
    images, scaled = _scaling_input(), arrays["scaled"]
    assert scaled.shape == images.shape, f"scaled images have shape {scaled.shape}; expected {images.shape}"
    assert scaled.dtype == np.float32, f"scaled images are {scaled.dtype}; expected float32 (use .astype('float32'))"
    assert np.allclose(scaled, images / 255.0, atol=1e-6), (
        f"scaled pixels run from {scaled.min():g} to {scaled.max():g}; expected 0 to 1: divide by 255")


# --- the dropout layer ------------------------------------------------------------------------

_TRAINING_CASES = ((0.25, (200, 500)), (0.6, (10, 50, 200)))


def _training_inputs(shape) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.5, 2.0, size=shape).astype(np.float32)


def check_dropout_in_training(layer_class) -> None:
    """A fraction ``rate`` of units is zeroed, survivors are scaled by 1/(1-rate), the mean is kept
    and every call draws a new mask."""
    evidence = {}
    for i, (rate, shape) in enumerate(_TRAINING_CASES):
        layer, inputs = layer_class(rate=rate), _training_inputs(shape)
        evidence |= {f"outputs_{i}": layer(inputs, training=True), f"again_{i}": layer(inputs, training=True)}
    judge_exported("test_dropout_in_training", judge_dropout_in_training,
                   **{name: keras.ops.convert_to_numpy(value) for name, value in evidence.items()})


def judge_dropout_in_training(arrays) -> None:
    for i, (rate, shape) in enumerate(_TRAINING_CASES):
        inputs, outputs = _training_inputs(shape), arrays[f"outputs_{i}"]
        assert outputs.shape == inputs.shape, f"in training the layer turned inputs of shape {shape} into {outputs.shape}"
        dropped = float(np.mean(outputs == 0))
        assert abs(dropped - rate) < 0.01, (
            f"with rate={rate} the layer zeroed {dropped:.1%} of the units in training; expected {rate:.0%}. "
            "Is `rate` the probability of dropping (not of keeping) a unit?")
        kept = outputs != 0
        ratio = outputs[kept] / inputs[kept]
        assert np.allclose(ratio, 1 / (1 - rate), rtol=1e-5), (
            f"with rate={rate} surviving units were multiplied by {np.median(ratio):.4g}; expected 1/(1-rate) = "
            f"{1 / (1 - rate):.4g}. Inverted dropout scales the survivors up in training")
        mean_ratio = outputs.mean() / inputs.mean()
        assert abs(mean_ratio - 1) < 0.02, (
            f"in training the layer changes the mean activation by a factor {mean_ratio:.3f}; expected about 1")
        assert arrays[f"again_{i}"].shape == shape and not np.array_equal(arrays[f"again_{i}"] == 0, outputs == 0), (
            "two training calls dropped exactly the same units: draw a new random mask on every call "
            "(keras.random with a SeedGenerator, not a mask made once in __init__ or build)")


def _inference_inputs() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(16, 64)).astype(np.float32)


def check_dropout_at_inference(layer_class) -> None:
    """Identity outside training (including when ``training`` is not given), and a config that
    rebuilds the same layer."""
    inputs, layer = _inference_inputs(), layer_class(rate=0.4)
    outputs = {"training_false": layer(inputs, training=False), "no_training_argument": layer(inputs),
               "rate_zero": layer_class(rate=0.0)(inputs, training=True)}
    evidence = {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}
    judge_dropout_at_inference(evidence)  # before the config: a layer that is wrong at inference says so first
    config = layer.get_config()
    assert config.get("rate") == 0.4, (
        f"get_config() returned {config}; it must include 'rate' (return {{**super().get_config(), 'rate': self.rate}})")
    rebuilt = layer_class.from_config(config)
    assert getattr(rebuilt, "rate", None) == 0.4 and rebuilt.name == layer.name, (
        "from_config(get_config()) did not rebuild the layer with the same rate and name")
    judge_exported("test_dropout_at_inference", judge_dropout_at_inference, **evidence)


def judge_dropout_at_inference(arrays) -> None:
    inputs = _inference_inputs()
    for name, description in (("training_false", "training=False"), ("no_training_argument", "no training argument")):
        assert arrays[name].shape == inputs.shape and np.allclose(arrays[name], inputs), (
            f"with {description} the layer changed its inputs; at inference dropout must return them unchanged")
    assert arrays["rate_zero"].shape == inputs.shape and np.allclose(arrays["rate_zero"], inputs), (
        "with rate=0 the layer must return its inputs unchanged, even in training")


# --- the model --------------------------------------------------------------------------------

_MLP_SETTINGS = ((32, 0.2, "adam"), (16, 0.0, "sgd"))


def _mlp_inputs() -> np.ndarray:
    return np.random.default_rng(2).uniform(size=(8, 28, 28)).astype(np.float32)


def check_mlp(build_mlp, dropout_class) -> None:
    """Models built with and without dropout: compiled, images in, probabilities over ten digits
    out, the student's own dropout layer with the given rate."""
    probabilities = {}
    for i, (units, dropout_rate, optimizer) in enumerate(_MLP_SETTINGS):
        model = build_mlp(units, dropout_rate, optimizer)
        check_compiled(model)
        assert tuple(model.input_shape) == (None, 28, 28), (
            f"the model takes inputs of shape {tuple(model.input_shape)}; expected (None, 28, 28) images (Flatten them inside)")
        check_output_shape(model, (None, 10), hint="end with Dense(10) over the ten digits")
        probabilities[f"probabilities_{i}"] = model.predict(_mlp_inputs(), verbose=0)
        judge_mlp(probabilities, settings=[i])
        assert not any(type(layer) is keras.layers.Dropout for layer in model.layers), (
            "the model uses keras.layers.Dropout: use your own InvertedDropout layer")
        own = [layer for layer in model.layers if isinstance(layer, dropout_class)]
        if dropout_rate > 0:
            assert own and all(layer.rate == dropout_rate for layer in own), (
                f"the model has {len(own)} InvertedDropout layers with rates {[layer.rate for layer in own]}; "
                f"expected at least one, each with rate {dropout_rate}, after the hidden layers")
        else:
            assert not own, "with dropout_rate=0 the model must have no dropout layers"
    judge_exported("test_mlp", judge_mlp, **probabilities)


def judge_mlp(arrays, settings=range(len(_MLP_SETTINGS))) -> None:
    for i in settings:
        probabilities = np.asarray(arrays[f"probabilities_{i}"])
        assert probabilities.shape == (8, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4) \
            and probabilities.min() >= 0, (
            "the model's outputs are not probabilities: use activation='softmax' on the last layer "
            "(the loss sparse_categorical_crossentropy expects probabilities by default)")


def check_early_stopping(*callbacks) -> None:
    judge_exported("test_early_stopping", judge_early_stopping,
                   kinds=[type(callback).__name__ for callback in callbacks],
                   monitors=[str(getattr(callback, "monitor", "")) for callback in callbacks],
                   patiences=[getattr(callback, "patience", 0) for callback in callbacks],
                   restore=[bool(getattr(callback, "restore_best_weights", False)) for callback in callbacks])


def judge_early_stopping(arrays) -> None:
    for kind, monitor, patience, restore in zip(*(arrays[name] for name in ("kinds", "monitors", "patiences", "restore"))):
        assert kind == "EarlyStopping", f"expected a keras.callbacks.EarlyStopping, got {kind}"
        assert monitor.startswith("val_"), (
            f"early stopping monitors {str(monitor)!r}: watch a validation metric (val_loss or val_accuracy); "
            "the training loss keeps falling while the model overfits")
        assert patience >= 1, "patience=0 stops at the first epoch without improvement: allow a few"
        assert restore, "restore_best_weights is off: the model keeps the weights of its last epoch, not of its best one"


# --- held-out measurements --------------------------------------------------------------------

def classes_on_test_set(model) -> np.ndarray:
    """The model's predicted digit for each MNIST test image."""
    images, _ = data.load_mnist("test")
    return np.argmax(model.predict(images.astype(np.float32) / 255.0, batch_size=1000, verbose=0), axis=1)


def accuracy_on_test_set(classes: np.ndarray) -> float:
    """Accuracy of predicted digits on the MNIST test set (needs the test labels)."""
    return accuracy_of(classes, data.load_mnist("test")[1])


def check_dropout_narrows_gap(plain_model, dropout_model, train_images, train_labels) -> None:
    """Re-measures both small-data models: accuracy on their training images minus accuracy on
    the MNIST test set must shrink with dropout."""
    def train_classes(model):
        return np.argmax(model.predict(train_images, verbose=0), axis=1)
    judge_held_out("test_dropout_narrows_the_gap", judge_gap, train_labels=train_labels,
                   plain_train=train_classes(plain_model), dropout_train=train_classes(dropout_model),
                   plain_test=classes_on_test_set(plain_model), dropout_test=classes_on_test_set(dropout_model))


def judge_gap(arrays) -> str:
    plain_train = accuracy_of(arrays["plain_train"], arrays["train_labels"])
    assert plain_train >= 0.99, (
        f"the model without dropout reaches {plain_train:.1%} on its training images; it should memorise them "
        "(nearly 100%) to show overfitting: train it for the full SMALL_EPOCHS")

    def gap(model):
        return accuracy_of(arrays[f"{model}_train"], arrays["train_labels"]) - accuracy_on_test_set(arrays[f"{model}_test"])
    plain_gap, dropout_gap = record("02/plain_gap", gap("plain")), record("02/dropout_gap", gap("dropout"))
    reduction = record("02/gap_reduction", plain_gap - dropout_gap)
    assert reduction > GAP_REDUCTION_THRESHOLD, (
        f"train-test accuracy gap: {plain_gap:.1%} without dropout, {dropout_gap:.1%} with it; dropout should "
        f"narrow it by more than {GAP_REDUCTION_THRESHOLD:.1%}. Is the dropout model using your layer, and is "
        "the layer active in training?")
    return f"train-test accuracy gap {plain_gap:.1%} without dropout, {dropout_gap:.1%} with it"


def check_test_accuracy(model) -> None:
    judge_held_out("test_test_accuracy", judge_test_accuracy, classes=classes_on_test_set(model))


def judge_test_accuracy(arrays) -> str:
    accuracy = record("02/test_accuracy", accuracy_on_test_set(arrays["classes"]))
    assert accuracy >= TEST_ACCURACY_THRESHOLD, (
        f"the model's accuracy on the MNIST test set is {accuracy:.2%}; it must reach {TEST_ACCURACY_THRESHOLD:.1%}. "
        "Check the scaling of the inputs, the learning rate and that early stopping restores the best weights")
    return f"{accuracy:.2%} of the MNIST test images (needs {TEST_ACCURACY_THRESHOLD:.1%})"
