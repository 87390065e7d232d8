"""Make `import scorer` mean the package, not this folder.

pytest puts tests/ on sys.path (for tests/conftest.py), where this folder would pass for
a namespace package called `scorer` when pytest is started as `pytest` rather than
`python -m pytest`. Putting the repository root first settles it.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[0] != ROOT:
    sys.path.insert(0, ROOT)
if "scorer" in sys.modules and getattr(sys.modules["scorer"], "__file__", None) is None:
    del sys.modules["scorer"]  # a namespace stand-in picked up before this ran
