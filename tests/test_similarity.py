"""Does `autograder similarity` put a disguised copy (variables renamed, functions reordered,
reformatted) at the top, above pairs of independently written solutions of assignment 1?"""

import os
import re

import nbformat
import numpy as np
import pytest

from autograder import cli, similarity
from autograder.course import Course
from conftest import report_figures

COURSE = Course.find(__file__)
ASSIGNMENT = "01_regression_baselines"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

# Two students who wrote their own answers (grade id -> cell source).
INDEPENDENT = {
    "cat": {
        "split_train_validation": '''def split_train_validation(frame, validation_fraction, seed):
    shuffled = frame.sample(frac=1.0, random_state=seed)
    n_validation = int(round(validation_fraction * len(shuffled)))
    validation_part = shuffled.head(n_validation)
    return shuffled.drop(validation_part.index), validation_part''',
        "metrics": '''def mean_absolute_error(y_true, y_pred):
    total = 0.0
    truth, guess = np.ravel(y_true).astype(float), np.ravel(y_pred).astype(float)
    for a, b in zip(truth, guess):
        total += abs(a - b)
    return total / len(truth)


def root_mean_squared_error(y_true, y_pred):
    difference = np.subtract(y_true, y_pred, dtype=np.float64)
    return math.sqrt((difference * difference).sum() / difference.size)


def fit_mean_baseline(train_prices):
    return sum(float(price) for price in train_prices) / len(train_prices)''',
        "features": '''FEATURES = ["Gr Liv Area", "Overall Qual", "Garage Area", "Total Bsmt SF", "Year Built", "Full Bath"]


def feature_matrix(frame):
    columns = frame.loc[:, FEATURES].astype("float32")
    return columns.fillna(columns.median()).values


def make_normalizer(train_features):
    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(np.asarray(train_features))
    return layer''',
        "linear_model": '''def build_linear_model(normalizer):
    net = keras.Sequential([keras.Input((len(FEATURES),)), normalizer, layers.Dense(1),
                            layers.Rescaling(PRICE_SCALE)], name="linear")
    net.compile(keras.optimizers.Adam(learning_rate=LINEAR_LEARNING_RATE), loss="mean_squared_error",
                metrics=[keras.metrics.RootMeanSquaredError("rmse")])
    return net''',
    },
    "dan": {
        "split_train_validation": '''def split_train_validation(frame, validation_fraction, seed):
    rng = np.random.default_rng(seed)
    is_validation = np.zeros(len(frame), dtype=bool)
    is_validation[rng.choice(len(frame), size=round(len(frame) * validation_fraction), replace=False)] = True
    return frame[~is_validation].copy(), frame[is_validation].copy()''',
        "metrics": '''def fit_mean_baseline(train_prices):
    prices = np.array(train_prices, dtype=np.float64)
    return prices.mean().item()


def mean_absolute_error(y_true, y_pred):
    return np.abs(np.subtract(y_pred, y_true)).mean().item()


def root_mean_squared_error(y_true, y_pred):
    squared = np.square(np.subtract(y_pred, y_true, dtype=float))
    return squared.mean().item() ** 0.5''',
        "features": '''FEATURES = ["Overall Qual", "Gr Liv Area", "Garage Cars", "1st Flr SF", "Year Remod/Add", "TotRms AbvGrd",
            "Fireplaces"]


def feature_matrix(frame):
    matrix = np.nan_to_num(frame[FEATURES].to_numpy(dtype=np.float32))
    return matrix


def make_normalizer(train_features):
    normalization = layers.Normalization()
    normalization.adapt(train_features)
    return normalization''',
        "linear_model": '''def build_linear_model(normalizer):
    features_in = layers.Input(shape=(len(FEATURES),))
    price = layers.Rescaling(PRICE_SCALE)(layers.Dense(units=1)(normalizer(features_in)))
    linear = keras.Model(inputs=features_in, outputs=price, name="linear")
    linear.compile(loss="mse", optimizer=keras.optimizers.Adam(LINEAR_LEARNING_RATE),
                   metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return linear''',
    },
}
RENAMED = {"frame": "data", "order": "perm", "validation_size": "n_val", "errors": "diffs", "normalizer": "norm_layer",
           "inputs": "x", "scaled_price": "y_scaled", "model": "net", "hidden": "h", "train_prices": "prices"}


def disguised(source: str) -> str:
    """The source with its variables renamed, its functions in reverse order and its spacing changed."""
    for old, new in RENAMED.items():
        source = re.sub(rf"\b{old}\b", new, source)
    functions = re.split(r"\n\n\n(?=def )", source)
    return "\n\n\n".join(reversed(functions)).replace(" = ", "  =  ")


@pytest.fixture
def submitted(tmp_path):
    """ann hands in the reference answers, bob a disguised copy of them, cat and dan their own."""
    reference = nbformat.read(COURSE.solution_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {cell.metadata.nbgrader.grade_id: cell.source for cell in reference.cells
               if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}
    students = {"ann": answers, "bob": {grade_id: disguised(source) for grade_id, source in answers.items()},
                **INDEPENDENT}
    for student, cells in students.items():
        notebook = nbformat.read(COURSE.release_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in cells:
                cell.source = cells[cell.metadata.nbgrader.grade_id]
        (tmp_path / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(notebook, tmp_path / student / ASSIGNMENT / NOTEBOOK)
    return tmp_path


def given():
    return {NOTEBOOK: nbformat.read(COURSE.release_dir / ASSIGNMENT / NOTEBOOK, as_version=4)}


def test_a_disguised_copy_ranks_first_and_far_above_independent_solutions(submitted):
    pairs = similarity.similar_pairs(submitted, ASSIGNMENT, given())
    report_figures("\n".join(f"{pair.first}-{pair.second}: {pair.similarity:.2f}" for pair in pairs))
    assert (pairs[0].first, pairs[0].second) == ("ann", "bob")
    assert pairs[0].similarity > 0.8
    assert all(pair.similarity < 0.5 for pair in pairs[1:]), "independent solutions share little"


def test_the_shared_passages_are_shown_in_each_student_s_own_words(submitted):
    [copy] = [pair for pair in similarity.similar_pairs(submitted, ASSIGNMENT, given()) if pair.first == "ann" and pair.second == "bob"]
    assert any("order = np.random.default_rng(seed).permutation(len(frame))" in first
               and "perm  =  np.random.default_rng(seed).permutation(len(data))" in second for first, second in copy.shared)


def test_the_code_every_student_was_given_counts_for_nothing(tmp_path):
    for student in ("ann", "bob"):
        (tmp_path / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(given()[NOTEBOOK], tmp_path / student / ASSIGNMENT / NOTEBOOK)
    [pair] = similarity.similar_pairs(tmp_path, ASSIGNMENT, given())
    assert (pair.similarity, pair.shared) == (0.0, [])


def test_renaming_and_reformatting_leave_the_fingerprint_as_it_was():
    source = "def f(values, seed):\n    rng = np.random.default_rng(seed)\n    return rng.permutation(values).mean() * 2 + len(values)\n"
    renamed = source.replace("values", "xs").replace("rng =", "g =").replace("rng.", "g.").replace("seed", "s").replace(" * ", "*")
    assert similarity.tokens(source) == similarity.tokens(renamed)
    assert [text for text, _ in similarity.tokens("x.mean()")] == ["N", ".", "mean", "(", ")"], "attributes are kept"


# Identical evidence: arrays two students' runs exported exactly alike.

def export(runs, student, collector, notebook="01_nb", **arrays):
    folder = runs / student / notebook / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{collector}.npz", _run_token=np.array(f"token-{student}"), **arrays)
    return folder


@pytest.fixture
def runs(tmp_path):
    """bob pasted ann's held-out predictions; cat's are her own; all three share small arrays and
    a prediction of one class for everything."""
    rng = np.random.default_rng(0)
    classes, weights = rng.integers(0, 10, 10_000), rng.normal(size=(64, 8)).astype(np.float32)
    for student, own in (("ann", classes), ("bob", classes.copy()), ("cat", rng.integers(0, 10, 10_000))):
        export(tmp_path, student, "hand_in_test_accuracy", classes=own, accuracy=np.array(0.97), few=np.arange(99),
               constant=np.zeros(1000, dtype=np.int64), drawn=rng.normal(size=500))
    export(tmp_path, "ann", "hand_in_mlp", mlp_weights_0=weights)
    export(tmp_path, "bob", "hand_in_mlp", mlp_weights_0=weights.copy())
    export(tmp_path, "cat", "hand_in_mlp", mlp_weights_0=weights.astype(np.float64))  # same values, another dtype
    return tmp_path


def test_pasted_predictions_and_weights_are_reported_and_nothing_else(runs):
    [pair] = similarity.identical_evidence(runs)
    report_figures(f"{pair.first} / {pair.second}: {pair.arrays}")
    assert (pair.first, pair.second) == ("ann", "bob")
    assert pair.arrays == [("hand_in_mlp/mlp_weights_0", 512), ("hand_in_test_accuracy/classes", 10_000)]


def test_an_array_most_of_the_class_exported_alike_came_with_the_assignment(runs):
    pretrained = np.random.default_rng(2).normal(size=300)
    for student in ("ann", "bob", "cat"):
        export(runs, student, "hand_in_feature_extraction_model", model_weights_0=pretrained)
    [pair] = similarity.identical_evidence(runs)
    assert "hand_in_feature_extraction_model/model_weights_0" not in dict(pair.arrays)


def test_the_pairs_with_most_identical_arrays_come_first_and_go_to_a_csv(runs, tmp_path):
    shared = np.random.default_rng(1).normal(size=200)
    for student in ("cat", "dan"):
        export(runs, student, "hand_in_held_out_loss", rnn_0=shared)
    pairs = similarity.identical_evidence(runs)
    assert [(pair.first, pair.second, len(pair.arrays)) for pair in pairs] == [("ann", "bob", 2), ("cat", "dan", 1)]
    similarity.write_identical_csv(pairs, tmp_path / "identical_evidence.csv")
    assert (tmp_path / "identical_evidence.csv").read_text().splitlines() == [
        "first,second,arrays",
        "ann,bob,hand_in_mlp/mlp_weights_0 (512); hand_in_test_accuracy/classes (10000)",
        "cat,dan,hand_in_held_out_loss/rnn_0 (200)"]


def test_unreadable_exports_are_skipped(runs, tmp_path):
    """Links (to a file or to a folder of exports) and FIFOs are never read, and nothing fails."""
    pasted = export(runs, "ann", "hand_in_pasted", values=np.arange(1000))
    (runs / "bob" / "01_nb" / "exports" / "hand_in_pasted.npz").symlink_to(pasted / "hand_in_pasted.npz")
    os.mkfifo(runs / "cat" / "01_nb" / "exports" / "hand_in_pasted.npz")
    (runs / "dan" / "01_nb").mkdir(parents=True)
    (runs / "dan" / "01_nb" / "exports").symlink_to(pasted, target_is_directory=True)
    (runs / "eve").symlink_to(runs / "ann", target_is_directory=True)
    (runs / "bob" / "01_nb" / "exports" / "broken.npz").write_bytes(b"not a zip")
    [pair] = similarity.identical_evidence(runs)
    assert (pair.first, pair.second, len(pair.arrays)) == ("ann", "bob", 2), "only the fixture's pasted arrays"
    assert similarity.identical_evidence(tmp_path / "no runs") == []


def test_the_command_prints_the_pairs_with_identical_evidence(runs, monkeypatch, capsys):
    found = similarity.Similarity([], similarity.identical_evidence(runs))
    monkeypatch.setattr(cli.api, "similarity", lambda **arguments: found)
    assert cli.main(["similarity", "01"]) == 0
    assert ("ann / bob: identical hand_in_mlp/mlp_weights_0 (512 values), hand_in_test_accuracy/classes (10000 values)"
            in capsys.readouterr().out)
