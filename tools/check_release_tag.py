#!/usr/bin/env python3
"""Refuse to publish a tag that is not the package's version.

Usage: python tools/check_release_tag.py TAG DIST_DIR

Passes (exit 0) only when TAG is v<version>, <version> is __version__ in src/cymlp/__init__.py,
and DIST_DIR holds the sdist and wheels of exactly that version (nothing else). The publish job
of .github/workflows/wheels.yml runs it before uploading anything.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_version(root=ROOT):
    text = (root / "src" / "cymlp" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE).group(1)


def distribution_version(filename):
    """'cymlp-0.1.0-cp311-cp311-win_amd64.whl' or 'cymlp-0.1.0.tar.gz' -> '0.1.0'."""
    if filename.endswith(".whl"):
        return filename.split("-")[1]
    if filename.endswith(".tar.gz"):
        return filename.removesuffix(".tar.gz").rsplit("-", 1)[1]
    return None


def problems(tag, dist, root=ROOT):
    """What is wrong with publishing ``dist`` under ``tag`` (an empty list: nothing)."""
    version = package_version(root)
    found = []
    if tag != f"v{version}":
        found.append(f"tag {tag} is not the package version v{version} (src/cymlp/__init__.py)")
    files = sorted(path.name for path in Path(dist).iterdir())
    for name in files:
        if distribution_version(name) != version:
            found.append(f"{name} is not a distribution of cymlp {version}")
    if not any(name.endswith(".tar.gz") for name in files):
        found.append(f"no sdist in {dist}")
    if not any(name.endswith(".whl") for name in files):
        found.append(f"no wheel in {dist}")
    return found


def main(argv=None):
    tag, dist = (argv if argv is not None else sys.argv[1:])
    found = problems(tag, dist)
    for problem in found:
        print(f"check_release_tag: {problem}", file=sys.stderr)
    if not found:
        print(f"check_release_tag: {tag} is cymlp {package_version()}: "
              f"{len(list(Path(dist).iterdir()))} distributions")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
