"""What the assignment notebooks' test cells call: one module per assignment.

Each exercise has a visible check (``check_...``), which runs the student's code on public inputs
and the notebook's own objects and raises ``AssertionError`` naming the likely mistake, and a
collector (``hand_in_...``, see `coursekit.evidence`), which the hidden tests call to run the same
code on the grader's hidden inputs and hand the evidence to the grader's judge. Both use the same
``judge_...`` function of the module for their diagnosis, so a student learns from a visible check
what the hidden judge would say. Nothing here computes an exercise's answer: visible checks
compare with expected values written out for their public inputs, and the grader's judges compute
the answers to the hidden inputs.
"""
