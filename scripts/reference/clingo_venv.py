"""Makes `import clingo` work for the scripts that compare against clingo: when the running
Python lacks it, installs it (PyPI `clingo`, 5.x) into the project's venv
($TL_HOME/venv, by default ~/.cache/tensorlogic/venv) and re-runs the calling script
there with the same arguments.
"""

import os
import subprocess
import sys

VENV = os.path.join(os.environ.get("TL_HOME", os.path.expanduser("~/.cache/tensorlogic")), "venv")


def ensure_clingo():
    try:
        import clingo  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "clingo==5.*"], check=True)
    os.execv(python, [python] + sys.argv)
