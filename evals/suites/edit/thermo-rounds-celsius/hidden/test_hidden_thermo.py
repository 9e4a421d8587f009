import os
import subprocess
import sys
from pathlib import Path

import pytest

from thermo import c_to_f, f_to_c

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("f, c", [
    (100, 37.7778),
    (98.6, 37.0),
    (32, 0.0),
    (212, 100.0),
    (-40, -40.0),
    (0, -17.7778),
    (451, 232.7778),
])
def test_f_to_c(f, c):
    assert f_to_c(f) == pytest.approx(c, abs=0.05)


def test_round_trip():
    for c in (-12.5, 0, 21, 37.3):
        assert f_to_c(c_to_f(c)) == pytest.approx(c, abs=0.05)


def run(arg):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "thermo", arg], cwd=HERE, env=env,
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


def test_cli():
    assert "37.8" in run("100F")
    assert "-17.8" in run("0F")
    assert "69.8" in run("21C")
