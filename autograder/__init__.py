"""The grader: build, validate and grade the course (`autograder.api`, the `autograder` command)."""

import os

# The judges import TensorFlow, whose C++ start-up lines on stderr would bury every command's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
