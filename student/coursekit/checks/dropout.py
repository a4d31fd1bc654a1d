"""Checks for assignment 2, an MNIST MLP with a hand-written inverted dropout layer.

Models take images as float32 in [0, 1] of shape (None, 28, 28) and output class
probabilities (None, 10). The held-out collectors predict the MNIST test images, whose labels
students never get, and the grader's judges measure the predictions with them.

Which plausible wrong solution would a graded cell still pass? (Each catch is a wrong solution in
tests/notebooks/test_02_mnist_dropout.py or tests/checks/test_dropout.py.)
- test_scaling catches pixels not divided by 255 (or by 256, or to [-1, 1]) and integer dtypes.
- test_dropout_in_training catches the rate used as the keep probability, survivors not rescaled or
  scaled down, one mask reused on every call, and one mask shared by every row of the batch.
- test_dropout_at_inference catches dropout active at inference or without a training argument,
  and a config that cannot rebuild the layer.
- test_mlp catches Keras' own Dropout, logits without softmax, the optimizer, the hidden units or the
  dropout rate ignored, and a single hidden layer. Dropout on the inputs as well passes: a design
  choice, not a mistake. The grader rebuilds each model from its config, with a stand-in for the
  notebook's dropout layer, so a layer config without the rate loses this cell too.
- test_early_stopping runs both callbacks on a made-up run whose validation loss is lowest at an
  epoch drawn for each grading run: it catches a training metric, mode='max' on a loss (or 'min' on
  an accuracy), the patience ignored, and the last weights kept.
- test_dropout_narrows_the_gap and test_test_accuracy measure predictions of the MNIST test images.
"""

import copy

import keras
import numpy as np

from .. import data
from ..evidence import collector, model_arrays, returns_evidence, unlisted
from .common import accuracy_of, call, check_compiled, check_output_shape, optimizer_of

ASSIGNMENT = "02_mnist_dropout"

# Measured with the reference notebook, `tools/calibrate.py 02 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   test accuracy:  seed 0: 0.9800  seed 1: 0.9789  seed 2: 0.9804  seed 3: 0.9779  seed 4: 0.9786
#   gap without dropout minus gap with dropout (train accuracy on the 1,000 images minus test accuracy):
#                   seed 0: 0.0115  seed 1: 0.0104  seed 2: 0.0147  seed 3: 0.0152  seed 4: 0.0155
#   (plain gaps 0.113-0.117, dropout gaps 0.100-0.105)
# Low end of the students' ranges (keras 3.8.0, tensorflow-cpu 2.18.0, numpy 2.0.0, pandas 2.2.2,
# matplotlib 3.8.4; student/pyproject.toml), `tools/calibrate.py 02 --seeds 0` (2-core CPU, 2026-12-07):
#   test accuracy: seed 0: 0.9809   gap reduction: seed 0: 0.0164 (plain gap 0.1157, dropout gap 0.0993)
# Accuracy: worst run minus 0.2 points, above the 0.975 floor of the assignment's brief.
TEST_ACCURACY_THRESHOLD = 0.976
# Gap: worst run minus about half a point; dropout must narrow the gap by more than this.
GAP_REDUCTION_THRESHOLD = 0.005


# --- exercise 1: scaling ----------------------------------------------------------------------

_PUBLIC_PIXELS = np.array([0, 1, 51, 128, 255], np.uint8)
_PUBLIC_SCALED = np.array([0.0, 0.003921569, 0.2, 0.5019608, 1.0], np.float32)


def judge_scaling(images, scaled, expected) -> None:
    assert scaled.shape == images.shape, f"scaled images have shape {scaled.shape}; expected {images.shape}"
    assert scaled.dtype == np.float32, f"scaled images are {scaled.dtype}; expected float32 (use .astype('float32'))"
    assert np.allclose(scaled, expected, atol=1e-6), (
        f"scaled pixels run from {scaled.min():g} to {scaled.max():g}; expected 0 to 1: divide by 255")


def check_scaling(scale_images) -> None:
    """Images holding the grey levels 0, 1, 51, 128 and 255."""
    images = np.resize(_PUBLIC_PIXELS, (2, 28, 28))
    judge_scaling(images, np.asarray(call(scale_images, images)), np.resize(_PUBLIC_SCALED, images.shape))


@collector
def hand_in_scaling(inputs, scale_images) -> dict:
    return {"scaled": call(scale_images, inputs["images"].copy())}


# --- exercise 2: the dropout layer ------------------------------------------------------------

_PUBLIC_TRAINING_CASES = ((0.25, (200, 500)), (0.6, (10, 50, 200)))


def _public_training_inputs(shape) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.5, 2.0, size=shape).astype(np.float32)


@returns_evidence
def training_evidence(layer_class, cases) -> dict:
    """Two training calls of a layer of each (rate, inputs) case."""
    evidence = {}
    for i, (rate, inputs) in enumerate(cases):
        layer = call(layer_class, rate=rate)
        evidence |= {f"outputs_{i}": call(layer, inputs, training=True), f"again_{i}": layer(inputs, training=True)}
    return {name: keras.ops.convert_to_numpy(value) for name, value in evidence.items()}


def judge_dropout_in_training(cases, evidence) -> None:
    """A fraction ``rate`` of units is zeroed, survivors are scaled by 1/(1-rate), the mean is kept
    and every call draws a new mask."""
    for i, (rate, inputs) in enumerate(cases):
        outputs = evidence[f"outputs_{i}"]
        assert outputs.shape == inputs.shape, (
            f"in training the layer turned inputs of shape {inputs.shape} into {outputs.shape}")
        rows = (outputs == 0).reshape(-1, outputs.shape[-1])
        assert not (rows == rows[0]).all(), (
            "every row of the batch dropped the same units: draw the mask over the inputs' whole shape "
            "(keras.random.uniform(ops.shape(inputs), ...)), not one mask per unit shared by the batch")
        shares = rows.mean(axis=1)
        assert np.abs(shares - shares.mean()).max() < 0.25, (
            f"some rows lost {shares.max():.0%} of their units and some {shares.min():.0%}, with rate={rate:.3g}: draw "
            "each unit's mask on its own, not one per row")
        dropped = float(np.mean(outputs == 0))
        assert abs(dropped - rate) < 0.01, (
            f"with rate={rate:.3g} the layer zeroed {dropped:.1%} of the units in training; expected {rate:.1%}. "
            "Is `rate` the probability of dropping (not of keeping) a unit?")
        kept = outputs != 0
        ratio = outputs[kept] / inputs[kept]
        assert np.allclose(ratio, 1 / (1 - rate), rtol=1e-5), (
            f"with rate={rate:.3g} surviving units were multiplied by {np.median(ratio):.4g}; expected 1/(1-rate) = "
            f"{1 / (1 - rate):.4g}. Inverted dropout scales the survivors up in training")
        mean_ratio = outputs.mean() / inputs.mean()
        assert abs(mean_ratio - 1) < 0.02, (
            f"in training the layer changes the mean activation by a factor {mean_ratio:.3f}; expected about 1")
        again = evidence[f"again_{i}"]
        assert again.shape == inputs.shape and not np.array_equal(again == 0, outputs == 0), (
            "two training calls dropped exactly the same units: draw a new random mask on every call "
            "(keras.random with a SeedGenerator, not a mask made once in __init__ or build)")


def check_dropout_in_training(layer_class) -> None:
    cases = [(rate, _public_training_inputs(shape)) for rate, shape in _PUBLIC_TRAINING_CASES]
    judge_dropout_in_training(cases, training_evidence(layer_class, cases))


def training_cases(inputs) -> list:
    """The (rate, inputs) cases of a training judge's inputs."""
    return [(float(rate), values) for rate, values in zip(inputs["rates"], unlisted(inputs, "inputs"))]


@collector
def hand_in_dropout_in_training(inputs, layer_class) -> dict:
    return training_evidence(layer_class, training_cases(inputs))


@returns_evidence
def inference_evidence(layer_class, rate: float, inputs) -> dict:
    """Outputs at inference (also without a training argument), at rate 0 in training, and a config
    that rebuilds the layer."""
    layer = call(layer_class, rate=rate)
    outputs = {"training_false": call(layer, inputs, training=False), "no_training_argument": layer(inputs),
               "rate_zero": layer_class(rate=0.0)(inputs, training=True)}
    evidence = {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}
    config = layer.get_config()
    try:
        rebuilt = layer_class.from_config(config)
    except TypeError:  # a config without the rate cannot rebuild the layer: the judge says why
        rebuilt = None
    return evidence | {"config_rate": config.get("rate", np.nan), "rebuilt_rate": getattr(rebuilt, "rate", np.nan),
                       "same_name": rebuilt is not None and rebuilt.name == layer.name}


def judge_dropout_at_inference(rate: float, inputs, evidence) -> None:
    for name, description in (("training_false", "training=False"), ("no_training_argument", "no training argument")):
        assert evidence[name].shape == inputs.shape and np.allclose(evidence[name], inputs), (
            f"with {description} the layer changed its inputs; at inference dropout must return them unchanged")
    assert evidence["rate_zero"].shape == inputs.shape and np.allclose(evidence["rate_zero"], inputs), (
        "with rate=0 the layer must return its inputs unchanged, even in training")
    assert np.isclose(float(evidence["config_rate"]), rate), (
        f"get_config() of a layer with rate={rate:.3g} does not include that 'rate' (return "
        "{**super().get_config(), 'rate': self.rate})")
    assert np.isclose(float(evidence["rebuilt_rate"]), rate) and bool(evidence["same_name"]), (
        "from_config(get_config()) did not rebuild the layer with the same rate and name")


_PUBLIC_INFERENCE_RATE = 0.4


def check_dropout_at_inference(layer_class) -> None:
    """Identity outside training (including when ``training`` is not given), and a config that
    rebuilds the same layer."""
    inputs = np.random.default_rng(1).normal(size=(16, 64)).astype(np.float32)
    judge_dropout_at_inference(_PUBLIC_INFERENCE_RATE, inputs, inference_evidence(layer_class, _PUBLIC_INFERENCE_RATE, inputs))


@collector
def hand_in_dropout_at_inference(inputs, layer_class) -> dict:
    return inference_evidence(layer_class, float(inputs["rate"]), inputs["inputs"])


# --- exercise 3: the model --------------------------------------------------------------------

_PUBLIC_MLP_SETTINGS = ((32, 0.2, "adam"), (16, 0.0, "sgd"))
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
"""The optimizer names build_mlp is given, and the class each must compile the model with."""


def built_mlp(build_mlp, setting):
    """build_mlp's model for one (hidden_units, dropout_rate, optimizer) setting, checked compiled."""
    units, dropout_rate, optimizer = setting
    model = call(build_mlp, int(units), float(dropout_rate), str(optimizer))
    check_compiled(model)
    return model


def mlp_structure(model, dropout_class, optimizer: str, images) -> dict:
    """What judge_mlp checks of one model, compiled with an ``optimizer`` of that class name: its
    outputs on ``images``, its layers and the rates of its ``dropout_class`` layers. The grader
    measures a rebuilt copy of the model, with a dropout layer of its own in place of the notebook's."""
    assert tuple(model.input_shape) == (None, 28, 28), (
        f"the model takes inputs of shape {tuple(model.input_shape)}; expected (None, 28, 28) images (Flatten them inside)")
    check_output_shape(model, (None, 10), hint="end with Dense(10) over the ten digits")
    return {"probabilities": model.predict(images, verbose=0),
            "keras_dropout": any(type(layer) is keras.layers.Dropout for layer in model.layers),
            "own_rates": [float(layer.rate) for layer in model.layers if isinstance(layer, dropout_class)],
            "hidden_units": [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1],
            "optimizer": optimizer}


def judge_mlp(settings, images, structures) -> None:
    """``structures``: `mlp_structure` of the model built for each setting."""
    for (units, dropout_rate, optimizer), structure in zip(settings, structures, strict=True):
        probabilities = np.asarray(structure["probabilities"])
        assert probabilities.shape == (len(images), 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4) \
            and probabilities.min() >= 0, (
            "the model's outputs are not probabilities: use activation='softmax' on the last layer "
            "(the loss sparse_categorical_crossentropy expects probabilities by default)")
        assert not structure["keras_dropout"], "the model uses keras.layers.Dropout: use your own InvertedDropout layer"
        rates = structure["own_rates"]
        assert not np.isnan(rates).any(), (
            "the model's InvertedDropout layers do not say their rate: the grader rebuilds the model from its config, "
            "so get_config() must include it (as test_dropout_at_inference asks)")
        if dropout_rate > 0:
            assert rates and np.allclose(rates, dropout_rate), (
                f"build_mlp({units}, {dropout_rate:.3g}, ...) has {len(rates)} InvertedDropout layers with rates "
                f"{[round(rate, 3) for rate in rates]}; expected at least one, each with rate {dropout_rate:.3g}, after the hidden layers")
        else:
            assert not rates, "with dropout_rate=0 the model must have no dropout layers"
        hidden = structure["hidden_units"]
        assert len(hidden) == 2 and all(count == units for count in hidden), (
            f"build_mlp({units}, ...) has hidden Dense layers of {hidden} units; expected two of hidden_units={units}")
        assert structure["optimizer"] == OPTIMIZERS[str(optimizer)], (
            f"build_mlp(..., optimizer={str(optimizer)!r}) compiled the model with {structure['optimizer']}: "
            "compile with the optimizer it is given")


def _public_mlp_images() -> np.ndarray:
    return np.random.default_rng(2).uniform(size=(8, 28, 28)).astype(np.float32)


def check_mlp(build_mlp, dropout_class) -> None:
    """Models built with and without dropout: compiled, images in, probabilities over ten digits
    out, the student's own dropout layer with the given rate."""
    images = _public_mlp_images()
    models = [built_mlp(build_mlp, setting) for setting in _PUBLIC_MLP_SETTINGS]
    judge_mlp(_PUBLIC_MLP_SETTINGS, images,
              [mlp_structure(model, dropout_class, optimizer_of(model)[0], images) for model in models])


def mlp_settings(inputs) -> list:
    """The (hidden_units, dropout_rate, optimizer) settings of an MLP judge's inputs."""
    return [(int(units), float(rate), str(optimizer))
            for units, rate, optimizer in zip(inputs["units"], inputs["rates"], inputs["optimizers"])]


@collector
def hand_in_mlp(inputs, build_mlp, dropout_class) -> dict:
    """The model built for each setting, exported for the grader to rebuild, and the name of the
    notebook's dropout class (which the grader's stand-in replaces)."""
    evidence = {"dropout_class": dropout_class.__name__}
    for i, setting in enumerate(mlp_settings(inputs)):
        evidence |= model_arrays(built_mlp(build_mlp, setting), f"mlp_{i}")
    return evidence


def validation_losses(best_epoch: int, epochs: int, rng) -> np.ndarray:
    """A run's validation losses: falling to their lowest at ``best_epoch``, then rising (overfitting)."""
    falling = np.sort(rng.uniform(0.3, 0.9, best_epoch))[::-1] + 0.1
    rising = 0.1 + np.cumsum(rng.uniform(0.01, 0.05, epochs - best_epoch - 1))
    return np.concatenate([falling, [0.1], rising]).astype(np.float64)


_PUBLIC_LOSSES = validation_losses(4, 30, np.random.default_rng(3))
"""Validation losses of the visible early-stopping check: lowest at epoch 4."""


def _marker_model():
    """A compiled model whose single weight can be set to the epoch number, so that the weights the
    model ends with tell which epoch's they are."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, use_bias=False, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.evaluate(np.zeros((2, 1)), np.zeros(2), verbose=0)  # builds the metrics (mode="auto" looks them up)
    return model


def stopping_behaviour(callback, losses) -> tuple[int, int]:
    """(the epoch after which ``callback`` stopped training, -1 for never; the epoch whose weights
    the model kept) on a run whose validation loss follows ``losses``, validation accuracy mirrors
    it, and the training loss keeps falling. A copy of ``callback`` runs, so the notebook's keeps its state."""
    callback, model, stopped = copy.copy(callback), _marker_model(), -1
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, loss in enumerate(losses):
        model.set_weights([np.full((1, 2), float(epoch), np.float32)])
        callback.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "accuracy": 1 - 0.5 / (epoch + 1),
                                      "val_loss": float(loss), "val_accuracy": float(1 - loss / 2)})
        if model.stop_training:
            stopped = epoch
            break
    callback.on_train_end()
    return stopped, int(round(float(model.get_weights()[0][0, 0])))


@returns_evidence
def early_stopping_evidence(make_early_stopping, patience: int, notebook_callback, losses) -> dict:
    callbacks = (call(make_early_stopping, patience), notebook_callback)
    behaviour = [stopping_behaviour(callback, losses) if isinstance(callback, keras.callbacks.Callback) else (-1, -1)
                 for callback in callbacks]
    return {"kinds": [type(callback).__name__ for callback in callbacks],
            "monitors": [str(getattr(callback, "monitor", "")) for callback in callbacks],
            "patiences": [getattr(callback, "patience", 0) for callback in callbacks],
            "restore": [bool(getattr(callback, "restore_best_weights", False)) for callback in callbacks],
            "stopped": [stopped for stopped, _ in behaviour], "kept": [kept for _, kept in behaviour]}


def judge_early_stopping(patience: int, losses, evidence) -> None:
    """Of the callback made with ``patience`` and of the notebook's own, on a run whose validation
    loss follows ``losses``."""
    best = int(np.argmin(losses))
    for kind, monitor, patiences, restore, stopped, kept in zip(
            *(evidence[name] for name in ("kinds", "monitors", "patiences", "restore", "stopped", "kept"))):
        assert kind == "EarlyStopping", f"expected a keras.callbacks.EarlyStopping, got {kind}"
        assert monitor.startswith("val_"), (
            f"early stopping monitors {str(monitor)!r}: watch a validation metric (val_loss or val_accuracy); "
            "the training loss keeps falling while the model overfits")
        assert patiences >= 1, "patience=0 stops at the first epoch without improvement: allow a few"
        assert restore, "restore_best_weights is off: the model keeps the weights of its last epoch, not of its best one"
        expected = best + int(patiences) if best + int(patiences) < len(losses) else -1
        assert (int(stopped), int(kept)) == (expected, best), (
            f"on a run whose {monitor} was best at epoch {best}, early stopping with patience={int(patiences)} stopped "
            f"{'after epoch ' + str(int(stopped)) if stopped >= 0 else 'never'} and kept epoch {int(kept)}'s weights; "
            f"expected to stop after epoch {expected} and keep epoch {best}'s. Does mode match the metric "
            "(mode='min' for a loss, 'max' for an accuracy, or leave it 'auto')?")
    assert int(evidence["patiences"][0]) == patience, (
        f"make_early_stopping({patience}) waits {int(evidence['patiences'][0])} epochs: use the patience it is given")


def check_early_stopping(make_early_stopping, notebook_callback, patience: int) -> None:
    """Both callbacks on a made-up run whose validation loss is lowest at epoch 4, then rises."""
    judge_early_stopping(patience, _PUBLIC_LOSSES,
                         early_stopping_evidence(make_early_stopping, patience, notebook_callback, _PUBLIC_LOSSES))


@collector
def hand_in_early_stopping(inputs, make_early_stopping, notebook_callback) -> dict:
    return early_stopping_evidence(make_early_stopping, int(inputs["patience"]), notebook_callback, inputs["losses"])


# --- held-out measurements --------------------------------------------------------------------

def classes_of(model, images) -> np.ndarray:
    """``model``'s predicted digit for each of ``images`` (float32 in [0, 1])."""
    return np.argmax(model.predict(images, batch_size=1000, verbose=0), axis=1)


def test_images() -> np.ndarray:
    """The MNIST test images, scaled to [0, 1] (their labels stay with the grader)."""
    return data.load_mnist("test")[0].astype(np.float32) / 255.0


def judge_gap(plain_gap: float, dropout_gap: float, plain_train: float, where: str) -> str:
    assert plain_train >= 0.99, (
        f"the model without dropout reaches {plain_train:.1%} on its training images; it should memorise them "
        "(nearly 100%) to show overfitting: train it for the full SMALL_EPOCHS")
    assert plain_gap - dropout_gap > GAP_REDUCTION_THRESHOLD, (
        f"train-{where} accuracy gap: {plain_gap:.1%} without dropout, {dropout_gap:.1%} with it; dropout should "
        f"narrow it by more than {GAP_REDUCTION_THRESHOLD:.1%}. Is the dropout model using your layer, and is "
        "the layer active in training?")
    return f"train-{where} accuracy gap {plain_gap:.1%} without dropout, {dropout_gap:.1%} with it"


def show_gap(plain_model, dropout_model, train_images, train_labels, validation_images, validation_labels) -> None:
    """The gaps on validation images (informative: the hidden test measures them on the test images)."""
    def accuracy(model, images, labels):
        return accuracy_of(classes_of(model, images), labels)
    gaps = [accuracy(model, train_images, train_labels) - accuracy(model, validation_images, validation_labels)
            for model in (plain_model, dropout_model)]
    print(f"Train-validation accuracy gap: {gaps[0]:.1%} without dropout, {gaps[1]:.1%} with it. The hidden test "
          f"measures the gaps on the test images: dropout must narrow them by more than {GAP_REDUCTION_THRESHOLD:.1%}.")


@collector
def hand_in_gap(inputs, plain_model, dropout_model, train_images) -> dict:
    """Both small-data models' predictions on their training images and on the test images, and
    those training images (the grader labels them from its own copy of MNIST)."""
    images = test_images()[inputs["order"]]
    train_images = np.asarray(train_images)[np.random.default_rng(int(inputs["shuffle_seed"])).permutation(len(train_images))]
    return {"train_images": train_images, "plain_train": classes_of(plain_model, train_images),
            "dropout_train": classes_of(dropout_model, train_images),
            "plain_test": classes_of(plain_model, images), "dropout_test": classes_of(dropout_model, images)}


def judge_test_accuracy(accuracy: float, where: str) -> str:
    assert accuracy >= TEST_ACCURACY_THRESHOLD, (
        f"the model's accuracy on {where} is {accuracy:.2%}; it must reach {TEST_ACCURACY_THRESHOLD:.1%}. "
        "Check the scaling of the inputs, the learning rate and that early stopping restores the best weights")
    return f"{accuracy:.2%} of {where} (needs {TEST_ACCURACY_THRESHOLD:.1%})"


def show_accuracy_target(model, validation_images, validation_labels) -> None:
    accuracy = accuracy_of(classes_of(model, validation_images), validation_labels)
    print(f"Target: at least {TEST_ACCURACY_THRESHOLD:.1%} on the MNIST test images; "
          f"{accuracy:.2%} of the validation images.")


@collector
def hand_in_test_accuracy(inputs, model) -> dict:
    return {"classes": classes_of(model, test_images()[inputs["order"]])}
