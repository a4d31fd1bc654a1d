import pytest


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """Hidden-test checks export arrays into the working folder (as a graded notebook's would)."""
    monkeypatch.chdir(tmp_path)
