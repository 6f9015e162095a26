"""The public API's docstrings are numpydoc, complete and with an example (run by doctest).

Every callable the facade exports (``siteplan.__all__``) is checked with numpydoc's own
validator: a summary, every parameter documented, a Returns section when it returns
something, and an Examples section (which ``pytest --doctest-modules`` runs).
"""

from __future__ import annotations

import inspect

import pytest
from numpydoc.validate import validate

import siteplan

# numpydoc codes that must not occur: no docstring, no summary, undocumented or unknown
# parameters, parameters without a description, no Returns, no Examples.
REQUIRED = {"GL08", "SS01", "PR01", "PR02", "PR07", "RT01", "EX01"}

PUBLIC = sorted(n for n in siteplan.__all__
                if not n.startswith("_") and callable(getattr(siteplan, n))
                and not (inspect.isclass(getattr(siteplan, n))
                         and issubclass(getattr(siteplan, n), BaseException)))


@pytest.mark.parametrize("name", PUBLIC)
def test_public_docstring_is_complete(name):
    obj = getattr(siteplan, name)
    report = validate(f"{obj.__module__}.{obj.__qualname__}")
    problems = [f"{code}: {text}" for code, text in report["errors"] if code in REQUIRED]
    assert problems == []
