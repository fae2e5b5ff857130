"""The PaddleClas venv the side-by-side benches run Paddle in (not a project dependency)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PADDLE_PACKAGES = ("paddlepaddle==3.3.1", "paddleclas==2.6.0")


def ensure_paddle_venv(venv: Path) -> Path:
    """The Paddle venv's python, creating the venv (pip from PyPI, ~2 min) when it is missing.

    The same venv ``make test-paddle`` makes (``.venv-paddle``, stamped ``.installed``).
    """
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PADDLE_PACKAGES], check=True)
        (venv / ".installed").touch()
    return python
