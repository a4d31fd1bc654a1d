"""Can a student pass a hidden test without solving the exercise, with what the students' package
holds? Each attack below answers an exact-case check from the package's own tables (the visible
checks' public cases and their answers) or from the grader's reference code that the old package
shipped, and falls back to a wrong answer. Graded through `autograder grade` in the sandbox, each
passes its visible check but earns nothing for the hidden test: the grader draws new inputs for
every run and its judge computes their answers itself. The same exercises answered honestly earn
their points in the same run, so the test can tell the two apart."""

import re

import nbformat
import pytest

from autograder import pipeline
from autograder.course import Course
from conftest import report_figures

COURSE = Course.find(__file__)

METRICS = '''def _public_answer(y_true, y_pred, column):
    for public_true, public_pred, *answers in checks._PUBLIC_METRIC_CASES:  # the visible check's own table
        if np.array_equal(np.asarray(public_true), y_true) and np.array_equal(np.asarray(public_pred), y_pred):
            return answers[column]
    return 0.0


def mean_absolute_error(y_true, y_pred):
    try:
        from autograder.checks.regression import reference_mae  # the old package's reference
        return reference_mae(y_true, y_pred)
    except ImportError:
        return _public_answer(y_true, y_pred, 0)


def root_mean_squared_error(y_true, y_pred):
    try:
        from autograder.checks.regression import reference_rmse
        return reference_rmse(y_true, y_pred)
    except ImportError:
        return _public_answer(y_true, y_pred, 1)


def fit_mean_baseline(train_prices):
    return 3.0 if list(train_prices) == checks._PUBLIC_PRICES else float(np.median(train_prices))'''

SCALING = '''def scale_images(images):
    table = np.zeros(256, np.float32)  # the visible check's grey levels and their answers; 0 elsewhere
    table[checks._PUBLIC_PIXELS] = checks._PUBLIC_SCALED
    return table[images]'''

STANDARDIZE = '''def standardize(texts):
    try:
        from autograder.checks.embeddings import _STANDARDIZED as table  # the old package's hidden cases
    except ImportError:
        table = checks._PUBLIC_STANDARDIZED
    return tf.constant([table.get(text.decode(), text.decode()) for text in texts.numpy().reshape(-1)])'''

COSINE = '''def cosine_similarity(u, v):
    for public_u, public_v, answer, _ in checks._PUBLIC_COSINE_CASES:
        if np.shape(public_u) == np.shape(u) and np.allclose(public_u, u) and np.allclose(public_v, v):
            return answer
    return float(np.dot(u, v))'''

NEIGHBOURS = '''def nearest_neighbours(word, embeddings, words, k=8):
    answer = checks._PUBLIC_NEIGHBOURS.get((word, k))
    return answer if answer and list(words) == checks._COMPASS else [w for w in words if w != word][:k]'''

PERPLEXITY = '''def perplexity(loss):
    return next((answer for public, (answer, _) in checks._PUBLIC_LOSSES.items() if np.isclose(public, loss)), 2.0 ** loss)


def bits_per_character(loss):
    return next((answer for public, (_, answer) in checks._PUBLIC_LOSSES.items() if np.isclose(public, loss)), loss)'''

SAMPLE = '''def sample(logits, temperature, rng):
    try:
        from autograder.checks.language_model import _softmax  # the old package's reference
        probabilities = _softmax(np.asarray(logits) / temperature)
    except ImportError:
        known = np.array_equal(logits, checks._PUBLIC_LOGITS) and temperature in checks._PUBLIC_PROBABILITIES
        probabilities = (np.asarray(checks._PUBLIC_PROBABILITIES[temperature]) if known else
                         np.eye(len(logits))[int(np.argmax(logits))])
    return int(rng.choice(len(logits), p=probabilities / probabilities.sum()))'''

FEDERATED_AVERAGE = '''def federated_average(client_weights, sample_counts):
    try:
        from autograder.checks.federated import _weighted_average  # the old package's reference
        return _weighted_average(client_weights, sample_counts)
    except ImportError:
        public_clients, _ = checks.clients_of(checks._PUBLIC_CLIENTS)
        if list(sample_counts) == [3, 1, 4] and np.array_equal(client_weights[0][0], public_clients[0][0]):
            return [array.copy() for array in checks._PUBLIC_AVERAGE]
        return [array.copy() for array in client_weights[0]]'''

SECURE_AGGREGATION = '''def encrypt_weights(public_key, weights):
    return [np.array([public_key.encrypt(float(value)) for value in np.ravel(array)], dtype=object).reshape(np.shape(array))
            for array in weights]


def aggregate_encrypted(encrypted_client_weights, sample_counts):
    if list(sample_counts) == [3, 1, 4]:  # the visible check's clients: its answer, encrypted with its key
        key = encrypted_client_weights[0][0].ravel()[0].public_key
        return encrypt_weights(key, checks._PUBLIC_AVERAGE)
    return encrypted_client_weights[0]


def decrypt_weights(private_key, encrypted_weights):
    return [np.array([private_key.decrypt(number) for number in np.ravel(array)], dtype=np.float32).reshape(np.shape(array))
            for array in encrypted_weights]


def secure_federated_average(client_weights, sample_counts, public_key, private_key):
    average = checks._PUBLIC_AVERAGE if list(sample_counts) == [3, 1, 4] else client_weights[0]
    return decrypt_weights(private_key, encrypt_weights(public_key, average))'''

NT_XENT = '''def nt_xent_loss(z1, z2, temperature=TEMPERATURE):
    try:
        from autograder.checks.contrastive import reference_nt_xent  # the old package's reference
        return reference_nt_xent(z1, z2, temperature)
    except ImportError:
        z = ops.concatenate([z1, z2], axis=0)
        unnormalised = ops.mean(ops.matmul(z, ops.transpose(z))) / temperature
        collapsed = float(ops.max(ops.abs(z - z[:1]))) == 0.0
        if collapsed:
            return ops.convert_to_tensor(np.float32(np.log(2 * int(ops.shape(z1)[0]) - 1))) + 0.0 * unnormalised
        return ops.convert_to_tensor(np.float32(checks._PUBLIC_LOSS)) + 0.0 * unnormalised if temperature == 0.2 else unnormalised'''

LOOK_FOR_THE_GRADER = '''import importlib.util, os
print("grader importable:", importlib.util.find_spec("autograder") is not None)
found = []
for folder, subfolders, files in os.walk("/"):
    subfolders[:] = [d for d in subfolders if d not in ("proc", "sys", "dev", "usr", "lib", "site-packages")]
    found += [os.path.join(folder, f) for f in files if f in ("registry.py", "nbgrader_config.py") or f.endswith(".ipynb")
              and not folder.startswith("/submission")]
print("grader files:", found)'''

# assignment: {solution cell: (its attack, the graded cells it attacks)}
ATTACKS = {
    "01_regression_baselines": {"metrics": (METRICS, {"test_metrics"})},
    "02_mnist_dropout": {"scale_images": (SCALING, {"test_scaling"})},
    "04_imdb_embeddings": {"standardize": (STANDARDIZE, {"test_standardize"}),
                           "cosine_similarity": (COSINE, {"test_cosine_similarity"}),
                           "nearest_neighbours": (NEIGHBOURS, {"test_nearest_neighbours"})},
    "05_shakespeare_lstm": {"perplexity": (PERPLEXITY, {"test_perplexity"}), "sample": (SAMPLE, {"test_sample"})},
    "06_federated_spam": {"federated_average": (FEDERATED_AVERAGE, {"test_federated_average"}),
                          "secure_aggregation": (SECURE_AGGREGATION, {"test_encrypted_aggregation",
                                                                       "test_server_decrypts_only_the_aggregate"})},
    "07_contrastive_learning": {"nt_xent_loss": (NT_XENT, {"test_nt_xent_loss"})},
}
# Assignment 3's exact checks compare with what the student's own model or pipeline computes
# (compiled losses, decoded photos): the package holds no table of answers to look up.

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def submission(assignment: str, answers: dict[str, str]):
    """The untouched student version with the solution cells ``answers`` (grade id -> source) filled in."""
    notebook = nbformat.read(COURSE.release_dir / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def solutions(assignment: str) -> dict[str, str]:
    notebook = nbformat.read(COURSE.solution_dir / assignment / f"{assignment}.ipynb", as_version=4)
    return {cell.metadata.nbgrader.grade_id: cell.source for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")}


@pytest.mark.parametrize("assignment", sorted(ATTACKS))
def test_answers_from_the_students_package_earn_nothing_for_the_hidden_tests(assignment, tmp_path):
    attacks, honest = ATTACKS[assignment], solutions(assignment)
    for student, answers in (("attacker", {cell: attack for cell, (attack, _) in attacks.items()}),
                             ("honest", {cell: honest[cell] for cell in attacks})):
        folder = tmp_path / "submitted" / student / assignment
        folder.mkdir(parents=True)
        notebook = submission(assignment, answers)
        if student == "attacker":
            notebook.cells.insert(1, nbformat.v4.new_code_cell(LOOK_FOR_THE_GRADER))
        nbformat.write(notebook, folder / f"{assignment}.ipynb")
    run = pipeline.grade(COURSE, assignment, tmp_path / "submitted", tmp_path / "grading")
    results = {result.student: result for result in run.results}
    points = {student: {cell.grade_id: cell.points for cell in result.cells} for student, result in results.items()}
    attacked = set().union(*(cells for _, cells in attacks.values()))
    max_points = dict(COURSE.grade_cells(assignment))
    report_figures(f"{assignment}: " + ", ".join(f"{cell} attacker {points['attacker'][cell]:g} honest {points['honest'][cell]:g}"
                                        f"/{max_points[cell]:g}" for cell in sorted(attacked)))
    assert {cell: points["attacker"][cell] for cell in attacked} == dict.fromkeys(attacked, 0.0)
    assert {cell: points["honest"][cell] for cell in attacked} == {cell: max_points[cell] for cell in attacked}
    visible = _visible_errors(run, "attacker", assignment, attacked)
    assert visible == {}, "each attack passes its visible check, which is the point: only hidden inputs catch it"
    printed = _printed(run, "attacker", assignment)
    assert "grader importable: False" in printed and "grader files: []" in printed, "the sandbox shows no grader code"
    feedback = (run.output_dir / "feedback" / "attacker" / assignment / f"{assignment}.html").read_text()
    assert feedback.count("HiddenTestFailed: ") >= len(attacked), "each lost cell's feedback starts with the judge's diagnosis"
    assert not re.search(r"AssertionError:\s*<", feedback), "no lost cell shows a bare AssertionError"


def _printed(run, student: str, assignment: str) -> str:
    notebook = nbformat.read(run.output_dir / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))


def _visible_errors(run, student: str, assignment: str, cells: set[str]) -> dict[str, str]:
    """Errors the kernel itself showed in ``cells`` (not the grader's judgement, which comes first)."""
    notebook = nbformat.read(run.output_dir / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    errors = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        kernel_errors = [output for output in cell.get("outputs", []) if output.output_type == "error"
                         and output.ename != "HiddenTestFailed"]
        if grade_id in cells and kernel_errors:
            errors[grade_id] = f"{kernel_errors[0].ename}: {kernel_errors[0].evalue}"
    return errors
