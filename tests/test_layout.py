"""The source layout keeps `operator` free for the standard library."""

import operator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_operator_folder_is_not_a_package() -> None:
    assert (ROOT / "operator" / "imagerollout" / "__init__.py").is_file()
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_import_operator_is_the_standard_library() -> None:
    assert operator.add(2, 3) == 5
    assert "site-packages" not in str(getattr(operator, "__file__", ""))
    assert str(ROOT) not in str(getattr(operator, "__file__", ""))
