"""Assignment 5's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from autograder import exports
from autograder.judges import MEASUREMENTS
from autograder.judges import language_model as judges
from coursekit.checks import language_model as checks

SEEDS = range(4)


def build_char_lookups(text, order=sorted, invert=True):
    vocabulary = order(set(text))
    return (layers.StringLookup(vocabulary=vocabulary, mask_token=None),
            layers.StringLookup(vocabulary=vocabulary, mask_token=None, invert=invert))


def make_dataset(ids, sequence_length, batch_size, shuffle, chunk=1, shift=1, drop_remainder=True,
                 shuffle_characters=False):
    dataset = tf.data.Dataset.from_tensor_slices(ids)
    if shuffle and shuffle_characters:
        dataset = dataset.shuffle(1_000)
    dataset = dataset.batch(sequence_length + chunk, drop_remainder=True)
    dataset = dataset.map(lambda window: (window[:-1], window[shift:shift + sequence_length]))
    if shuffle and not shuffle_characters:
        dataset = dataset.shuffle(1_000)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)


def build_model(vocabulary_size, embedding_dim, rnn_units, learning_rate, recurrent_layer=layers.LSTM,
                activation=None, from_logits=True, return_state=True):
    ids = keras.Input((None,), dtype="int32")
    x = layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(ids)
    x = recurrent_layer(rnn_units, return_sequences=True, return_state=return_state, name="rnn")(x)
    x = x[0] if return_state else x
    model = keras.Model(ids, layers.Dense(vocabulary_size, activation=activation, name="logits")(x))
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), metrics=["accuracy"])
    return model


def sample(logits, temperature, rng):
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    probabilities = np.exp(scaled - scaled.max())
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))


def make_step_function(model):
    embedding, rnn, to_logits = (model.get_layer(name) for name in ("embedding", "rnn", "logits"))

    @tf.function(reduce_retracing=True)
    def step(ids, states):
        outputs, *new_states = rnn(embedding(ids), initial_state=states)
        return to_logits(outputs[:, -1])[0], new_states

    return step


TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
CHAR_TO_ID, ID_TO_CHAR = build_char_lookups(TEXT)


def make_generate_text(carry_state=True, mask_unknown=True):
    def generate_text(step, prompt, num_characters, temperature=1.0, rng=None):
        logits, states = step(checks.text_to_ids(CHAR_TO_ID, prompt)[None], None)
        generated = []
        for _ in range(num_characters):
            logits = logits.numpy()
            if mask_unknown:
                logits[0] = -np.inf
            generated.append(sample(logits, temperature, rng))
            logits, states = step(np.array([[generated[-1]]]), states if carry_state else None)
        return prompt + checks.ids_to_text(ID_TO_CHAR, generated)
    return generate_text


@pytest.fixture(scope="module")
def trained_model():
    """A small LSTM fitted for a few steps on TEXT, so that its predictions depend on context."""
    keras.utils.set_random_seed(0)
    model = build_model(CHAR_TO_ID.vocabulary_size(), 8, 32, 1e-2)
    ids = checks.text_to_ids(CHAR_TO_ID, TEXT * 4)
    model.fit(make_dataset(ids, 20, 4, shuffle=True), epochs=20, verbose=0)
    return model


# --- lookups and windows ---------------------------------------------------------------------------

def test_correct_lookups_pass(hidden_test):
    assert checks._PUBLIC_VOCABULARY == ["[UNK]"] + sorted(set(checks._PUBLIC_TEXT))
    checks.check_char_lookups(build_char_lookups)
    for seed in SEEDS:
        hidden_test(checks.hand_in_char_lookups, build_char_lookups, seed=seed)


@pytest.mark.parametrize("mistake, message", [
    ({"order": list}, r"^built from '.*', char_to_id's vocabulary is \['\[UNK\]', .*; expected"),
    ({"invert": False}, r"^id_to_char\(char_to_id\(characters\)\) does not give the characters back"),
])
def test_lookup_mistakes_are_named(mistake, message, both_fail):
    def mistaken(text):
        return build_char_lookups(text, **mistake)
    both_fail(lambda: checks.check_char_lookups(mistaken), checks.hand_in_char_lookups, mistaken, match=message)


def test_a_correct_make_dataset_passes(hidden_test):
    checks.check_make_dataset(make_dataset)
    for seed in SEEDS:
        hidden_test(checks.hand_in_make_dataset, make_dataset, seed=seed)


@pytest.mark.parametrize("mistake, message", [
    ({"chunk": 0, "shift": 0}, r"gave the input batch \[\[0 1 2\]"),
    ({"shift": 0}, r"gave the target batch \[\[0 1 2 3\]"),
    ({"drop_remainder": False}, r"^make_dataset\(ids of length 2000, sequence_length=9, batch_size=7, shuffle=False\) gave "
                                r"29 batches; expected 28 full batches"),
    ({"shuffle_characters": True}, r"^with shuffle=True the batches hold windows that are not among the consecutive"),
])
def test_windowing_mistakes_are_named(mistake, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_make_dataset(lambda *args, **kwargs: make_dataset(*args, **kwargs, **mistake))


@pytest.mark.parametrize("mistake, message", [
    ({"chunk": 0, "shift": 0}, r"^make_dataset\(ids of length \d+, .*\) gave \d+ batches; expected \d+ full batches"),
    ({"shift": 0}, r"gave the target batch .*: each target is the character that follows its input"),
    ({"drop_remainder": False}, r"gave \d+ batches; expected \d+ full batches"),
    ({"shuffle_characters": True}, r"^with shuffle=True the batches hold windows that are not among the consecutive"),
])
def test_windowing_mistakes_fail_the_hidden_test(mistake, message, hidden_test):
    with pytest.raises(AssertionError, match=message):
        hidden_test(checks.hand_in_make_dataset, lambda *args, **kwargs: make_dataset(*args, **kwargs, **mistake))


def test_a_dataset_that_never_shuffles_is_named(both_fail):
    def never_shuffles(ids, sequence_length, batch_size, shuffle):
        return make_dataset(ids, sequence_length, batch_size, shuffle=False)
    both_fail(lambda: checks.check_make_dataset(never_shuffles), checks.hand_in_make_dataset, never_shuffles,
              match=r"^with shuffle=True the first batch is not shuffled")


# --- the model ---------------------------------------------------------------------------------------

def test_correct_models_pass_with_any_recurrent_layer(hidden_test):
    def gru(*args, **kwargs):
        return build_model(*args, **{"recurrent_layer": layers.GRU, **kwargs})
    for candidate in (build_model, gru):
        checks.check_model(candidate)
        for seed in SEEDS:
            hidden_test(checks.hand_in_model, candidate, seed=seed)


@pytest.mark.parametrize("mistake, message", [
    ({"activation": "softmax"}, r"^the model's outputs sum to 1 at every position: they are probabilities"),
    ({"from_logits": False}, r"^the compiled loss \(hint: SparseCategoricalCrossentropy\(from_logits=True\)\) is"),
    ({"return_state": False}, r"^the layer named 'rnn' must be a recurrent layer with return_sequences=True and return_state=True"),
])
def test_model_mistakes_are_named(mistake, message, both_fail):
    def mistaken(*args, **kwargs):
        return build_model(*args, **kwargs, **mistake)
    both_fail(lambda: checks.check_model(mistaken), checks.hand_in_model, mistaken, match=message)


@pytest.mark.parametrize("optimizer", [lambda rate: keras.optimizers.Adam(), lambda rate: keras.optimizers.RMSprop(rate)])
def test_a_model_compiled_with_another_optimizer_or_learning_rate_is_named(optimizer, both_fail):
    def compiled_with(*args, **kwargs):
        model = build_model(*args, **kwargs)
        model.compile(optimizer(kwargs["learning_rate"]), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model
    both_fail(lambda: checks.check_model(compiled_with), checks.hand_in_model, compiled_with,
              match=r"^build_model\(\.\.\., learning_rate=[\d.e-]+\) compiled the model with (Adam|RMSprop) at learning rate")


def test_a_build_model_that_ignores_the_recurrent_layer_is_named(both_fail):
    def always_lstm(*args, recurrent_layer=None, **kwargs):
        return build_model(*args, **kwargs)
    both_fail(lambda: checks.check_model(always_lstm), checks.hand_in_model, always_lstm,
              match=r"recurrent_layer=layers.SimpleRNN\) does not use a SimpleRNN")


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", keras.losses.sparse_categorical_crossentropy])
def test_a_loss_by_name_or_function_is_judged_as_keras_defines_it(loss, hidden_test):
    """Both mean probabilities (from_logits=False): the grader rebuilds them and finds the loss wrong."""
    def compiled_with(*args, **kwargs):
        model = build_model(*args, **kwargs)
        model.compile(keras.optimizers.Adam(kwargs["learning_rate"]), loss, metrics=["accuracy"])
        return model
    with pytest.raises(AssertionError, match=r"^the compiled loss \(hint: SparseCategoricalCrossentropy\(from_logits=True\)\) is"):
        hidden_test(checks.hand_in_model, compiled_with)


def test_a_loss_of_the_notebook_s_own_is_not_run_by_the_grader(hidden_test):
    def own_loss(targets, logits):
        return keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)

    def compiled_with_own_loss(*args, **kwargs):
        model = build_model(*args, **kwargs)
        model.compile(keras.optimizers.Adam(kwargs["learning_rate"]), own_loss, metrics=["accuracy"])
        return model
    checks.check_model(compiled_with_own_loss)
    with pytest.raises(exports.ExportError, match=r"is compiled with a loss the grader does not rebuild .*own_loss"):
        hidden_test(checks.hand_in_model, compiled_with_own_loss)


def test_perplexity_and_bits(hidden_test, both_fail):
    checks.check_perplexity(math.exp, lambda loss: loss / math.log(2))
    hidden_test(checks.hand_in_perplexity, math.exp, lambda loss: loss / math.log(2))
    with pytest.raises(AssertionError, match=r"^perplexity\(1\) is 2; expected 2.718 = exp\(loss\)"):
        checks.check_perplexity(lambda loss: 2**loss, lambda loss: loss / math.log(2))
    both_fail(lambda: checks.check_perplexity(lambda loss: 2**loss, lambda loss: loss / math.log(2)), checks.hand_in_perplexity,
              lambda loss: 2**loss, lambda loss: loss / math.log(2), match=r"= exp\(loss\): the loss is in nats")


def test_the_written_out_public_answers_are_right():
    for temperature, probabilities in checks._PUBLIC_PROBABILITIES.items():
        np.testing.assert_allclose(probabilities, judges.softmax(checks._PUBLIC_LOGITS / temperature), atol=1e-4)
    for loss, (perplexity, bits) in checks._PUBLIC_LOSSES.items():
        assert perplexity == pytest.approx(math.exp(loss)) and bits == pytest.approx(loss / math.log(2))


# --- sampling and generation ---------------------------------------------------------------------

def test_a_correct_sampler_passes(hidden_test):
    checks.check_sample(sample)
    for seed in SEEDS:
        hidden_test(checks.hand_in_sample, sample, seed=seed)


def test_a_sampler_that_ignores_the_temperature_is_named(both_fail):
    def ignores(logits, temperature, rng):
        return sample(logits, 1.0, rng)
    with pytest.raises(AssertionError, match=r"^at temperature 1e-6 sample\(\) returned \[0, 1, 2, 3, 4\]"):
        checks.check_sample(ignores)
    both_fail(lambda: checks.check_sample(ignores), checks.hand_in_sample, ignores,
              match=r"^at temperature 1e-6 sample\(\) returned \[")


def test_a_sampler_that_multiplies_by_the_temperature_fails_the_frequency_test(hidden_test):
    def multiplies(logits, temperature, rng):
        return sample(logits, 1 / temperature if temperature > 1e-3 else temperature, rng)
    with pytest.raises(AssertionError, match=r"^at temperature [\d.]+, 20,000 draws gave the frequencies"):
        hidden_test(checks.hand_in_sample, multiplies)


def test_a_greedy_sampler_fails_the_frequency_test(both_fail):
    def greedy(logits, temperature, rng):
        return int(np.argmax(logits))
    with pytest.raises(AssertionError, match=r"^at temperature 1, 5,000 draws gave the frequencies \[1.0, 0.0, 0.0, 0.0, 0.0\]"):
        checks.check_sample(greedy)
    both_fail(lambda: checks.check_sample(greedy), checks.hand_in_sample, greedy, match=r"\d+,000 draws gave the frequencies")


def test_a_correct_generation_loop_passes(trained_model, hidden_test):
    checks.check_generate_text(make_generate_text(), make_step_function, trained_model, CHAR_TO_ID, ID_TO_CHAR)
    hidden_test(checks.hand_in_generate_text, make_generate_text(), make_step_function, trained_model, CHAR_TO_ID, ID_TO_CHAR)


def test_a_generation_loop_that_forgets_its_state_is_named(trained_model):
    with pytest.raises(AssertionError, match=r"^at temperature 1e-6 generate_text wrote .* the model's most likely "
                                             r"character is .*: feed the prompt once"):
        checks.check_generate_text(make_generate_text(carry_state=False), make_step_function, trained_model,
                                   CHAR_TO_ID, ID_TO_CHAR)


def test_the_hidden_test_judges_generated_text_by_the_logits_the_grader_measures(trained_model, hidden_test, monkeypatch):
    """The grader rebuilds the model from its exported weights: a loop that forgets its state fails
    there too, and weights that are not the model's are refused."""
    with pytest.raises(AssertionError, match=r"^at temperature 1e-6 generate_text wrote .* feed the prompt once"):
        hidden_test(checks.hand_in_generate_text, make_generate_text(carry_state=False), make_step_function, trained_model,
                    CHAR_TO_ID, ID_TO_CHAR)
    exported = checks.exported_model
    monkeypatch.setattr(checks, "exported_model", lambda model, char_to_id: (
        exported(model, char_to_id) | {"logits_1": exported(model, char_to_id)["logits_1"] + 1}))
    with pytest.raises(AssertionError, match=r"^the model rebuilt from the notebook's weights does not compute"):
        hidden_test(checks.hand_in_generate_text, make_generate_text(), make_step_function, trained_model,
                    CHAR_TO_ID, ID_TO_CHAR)


def test_a_generation_loop_that_can_emit_unknown_is_named(trained_model, both_fail):
    leaky = make_generate_text(mask_unknown=False)
    both_fail(lambda: checks.check_generate_text(leaky, make_step_function, trained_model, CHAR_TO_ID, ID_TO_CHAR),
              checks.hand_in_generate_text, leaky, make_step_function, trained_model, CHAR_TO_ID, ID_TO_CHAR,
              match=r"^with a model that favours the \[UNK\] id, generate_text produced '.*\[UNK\].*set the \[UNK\] logit \(id 0\) to -inf")


# --- the held-out text (real course data) --------------------------------------------------------

def test_the_character_frequency_baseline_is_its_cross_entropy():
    assert checks.unigram_baseline_loss("aab", "ab") == pytest.approx(-(math.log(2 / 3) + math.log(1 / 3)) / 2)


@pytest.mark.slow
def test_an_untrained_model_fails_the_held_out_check_with_both_measurements(hidden_test):
    from autograder import data
    char_to_id, _ = build_char_lookups(data.load_shakespeare())
    keras.utils.set_random_seed(0)  # an untrained model's loss is near ln 66 = 4.19: keep its digits fixed
    model = build_model(char_to_id.vocabulary_size(), 8, 16, 1e-3)
    with pytest.raises(AssertionError, match=r"^on the held-out last 10% of Tiny Shakespeare the model's loss is 4.1\d\d "
                                             r"nats per character .* Predicting every character by its frequency scores 3.3\d\d"):
        hidden_test(checks.hand_in_held_out_loss, model, char_to_id)
    assert MEASUREMENTS["held_out_loss"] == pytest.approx(math.log(66), abs=0.05)


# --- the model the grader rebuilds from exported weights ----------------------------------------

def exported(model, char_to_id, hidden_test):
    """What the held-out collector exports for ``model`` (judging it needs the held-out text, absent here)."""
    from autograder import exports
    from autograder.errors import DatasetNotFoundError
    with pytest.raises(exports.ExportError, match=DatasetNotFoundError.__name__):
        hidden_test(checks.hand_in_held_out_loss, model, char_to_id)
    return exports.load(".", "hand_in_held_out_loss")


@pytest.mark.parametrize("recurrent_layer", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_the_grader_rebuilds_the_model_from_its_weights(recurrent_layer, data_folder, hidden_test):
    char_to_id, _ = build_char_lookups("to be or not to be")
    model = build_model(char_to_id.vocabulary_size(), 4, 6, 1e-3, recurrent_layer=recurrent_layer)
    arrays = exported(model, char_to_id, hidden_test)
    ids = np.random.default_rng(3).integers(0, char_to_id.vocabulary_size(), size=(2, 9))
    np.testing.assert_allclose(judges.rebuilt_model(arrays).predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-5)


def test_weights_that_do_not_fit_the_assignment_model_are_named_before_anything_is_built(data_folder, hidden_test):
    char_to_id, _ = build_char_lookups("to be or not to be")
    arrays = exported(build_model(char_to_id.vocabulary_size(), 4, 6, 1e-3), char_to_id, hidden_test)
    arrays["rnn_1"] = np.zeros((100_000, 1), np.float32)  # built as given, LSTM(100000) would need 160 GB
    with pytest.raises(AssertionError, match=r"^the grader measures the held-out loss on the model of exercise 3 "
                                             r"rebuilt from its weights .* have the shapes"):
        judges.rebuilt_model(arrays)


def test_a_model_the_rebuild_cannot_reproduce_is_named(data_folder, hidden_test):
    (data_folder / "tinyshakespeare").mkdir()
    (data_folder / "tinyshakespeare/input.txt").write_text("to be or not to be\n" * 50)
    char_to_id, _ = build_char_lookups("to be or not to be\n")
    model = build_model(char_to_id.vocabulary_size(), 4, 6, 1e-3, activation="softmax")  # not the logits of exercise 3
    with pytest.raises(AssertionError, match=r"^the model rebuilt from the notebook's weights does not compute the "
                                             r"notebook model's logits"):
        hidden_test(checks.hand_in_held_out_loss, model, char_to_id)
