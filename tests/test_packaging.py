"""Package metadata, and the cibuildwheel configuration (checked offline)."""

import importlib.metadata
import importlib.resources
import subprocess
import sys
from pathlib import Path

import pytest

import cymlp

SOURCE = Path(__file__).resolve().parents[1]


def test_version_is_single_sourced_and_typed():
    assert cymlp.__version__ == importlib.metadata.version("cymlp")
    assert importlib.resources.files("cymlp").joinpath("py.typed").is_file()
    meta = importlib.metadata.metadata("cymlp")
    assert meta["License-Expression"] == "MIT" and "numpy>=1.25" in meta.get_all("Requires-Dist")


@pytest.mark.skipif(not (SOURCE / "pyproject.toml").is_file(),
                    reason="run from a copy of tests/ (the wheel checks): no source tree here")
@pytest.mark.parametrize("platform,tags", [
    ("linux", ["manylinux_x86_64", "musllinux_x86_64"]),
    ("macos", ["macosx_x86_64"]),
    ("windows", ["win_amd64"]),
])
def test_cibuildwheel_builds_cpython_311_to_314_for_every_platform(platform, tags):
    result = subprocess.run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers",
                             "--platform", platform], cwd=SOURCE, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # cibuildwheel rejects unknown keys
    identifiers = set(result.stdout.split())
    want = {f"cp3{minor}-{tag}" for minor in (11, 12, 13, 14) for tag in tags}
    assert want <= identifiers, want - identifiers
    assert not any("i686" in i or "win32" in i or i.startswith("pp") for i in identifiers)
