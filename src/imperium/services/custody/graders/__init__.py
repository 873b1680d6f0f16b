"""Grading a custody test: every check of an item run over the agent's result.

``grade(item, result, run_tests=...)`` returns a :class:`Grade`: the mean of the checks'
scores (each 0 or 1, except ``unit_tests``: passed / total), ``passed`` when that reaches
the item's threshold, and one entry per check saying what was expected, what was found and
why it failed. Graders never trust the agent: a missing field, an answer of the wrong type,
invalid JSON or code that does not import make a failed check with a clear ``detail``,
never an exception.

**Answer items** (``task_type == "answer"``): the result is the agent's answer, normalised
first by the question's ``format`` (:mod:`.answers`); checks then look at that answer.
**Agent-task items**: checks look at the result as the agent returned it.

Check kinds (:mod:`.checks`, one pydantic model per kind; ``path`` (:mod:`.paths`)
defaults to ``$``):

- ``exact``: ``expected`` equals the value (strings compared stripped and casefolded unless
  ``"case_sensitive": true``; recursively inside lists and objects; ``true`` is not ``1``);
- ``contains``: ``expected`` is an element of a list (an object ``expected`` matches an
  element holding at least its fields, so ``{"rule": "B602", "line": 7}`` needs both on
  one finding), a substring of a string (casefolded), or a key of an object;
- ``regex``: ``pattern`` found by ``re.search`` in the string (any element of a list),
  ``flags`` from ``"ims"``;
- ``numeric``: the number equals ``expected`` within ``abs_tol`` or ``rel_tol`` (default
  1e-9 absolute), and/or lies within ``min`` .. ``max`` (inclusive);
- ``json_schema``: the value is valid against ``schema`` (JSON Schema Draft 2020-12), and
  each path of the optional ``fields`` object holds its value (as ``exact``);
- ``unit_tests``: the answer's code is ``solution.py``, ``tests`` (pytest source importing
  from ``solution``) is ``test_solution.py``, run by ``run_tests`` (the Sandbox); the score
  is passed / total; without a runner the check fails saying so;
- ``catches_bug``: the answer is pytest source testing ``solution``; run against
  ``correct`` it must pass (at least one test, none failing), run against ``buggy`` (one
  implementation or a list of them) it must fail on each;
- ``not``: ``check`` (another check) must fail; a check that could not be evaluated
  (missing path, wrong type) does not count as failing, so an empty result never passes.

Modules: ``paths`` (the path language), ``checks`` (the check models; ``check_errors``
words pydantic's errors as the bank reports them), ``answers`` (normalisation),
``evaluate`` with ``value_checks`` and ``code_checks`` (one check's verdict), ``grading``
(a whole item), ``values`` and ``show`` (reading and showing values), ``schema``
(``jsonschema``, imported when a ``json_schema`` check needs it). Services only: nothing
here imports adapters; the test runner is the caller's.
"""

from imperium.services.custody.graders.answers import ANSWER, FORMATS, normalise_answer
from imperium.services.custody.graders.checks import (
    CODE_KINDS,
    KINDS,
    Check,
    iter_checks,
    parse_check,
)
from imperium.services.custody.graders.code_checks import RunTests, TestRunLike
from imperium.services.custody.graders.grading import (
    DEFAULT_THRESHOLDS,
    GradableItem,
    Grade,
    grade,
)
from imperium.services.custody.graders.paths import PathError, parse_path, resolve

__all__ = [
    "ANSWER",
    "CODE_KINDS",
    "DEFAULT_THRESHOLDS",
    "FORMATS",
    "KINDS",
    "Check",
    "GradableItem",
    "Grade",
    "PathError",
    "RunTests",
    "TestRunLike",
    "grade",
    "iter_checks",
    "normalise_answer",
    "parse_check",
    "parse_path",
    "resolve",
]
