"""nbgrader preprocessors the kit adds (registered in nbgrader_config.py)."""

import re

from nbgrader.preprocessors import NbGraderPreprocessor

# Output that TensorFlow, Keras and absl write to stderr on their own. nbgrader zeroes a graded
# cell with any stderr output, so autograde drops these chunks (IgnorePattern) before scoring.
TENSORFLOW_STDERR_NOISE = "(?m)" + "|".join([
    r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+\.(cc|h):\d+\]",  # absl/C++ log lines
    r"All log messages before absl::InitializeLog",
    r"(tensorflow|keras|absl|tensorflow_datasets)[/\\].*Warning:",  # Python warnings they raise
    r"oneDNN custom operations are on",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
])


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback shows what a hidden test said, never its source: each hidden region becomes one
    comment line, and tracebacks, which quote source lines, are cut to their last line."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not _HIDDEN_REGION.search(cell.source):
            return cell, resources
        cell.source = _HIDDEN_REGION.sub(HIDDEN_TESTS_PLACEHOLDER, cell.source)
        for output in cell.outputs:
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {_strip_ansi(output.evalue)}"]
        return cell, resources


HIDDEN_TESTS_PLACEHOLDER = "# hidden tests run here (their source is not shown)"
_HIDDEN_REGION = re.compile(r"^[^\n]*BEGIN HIDDEN TESTS.*?END HIDDEN TESTS[^\n]*$", re.S | re.M)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
