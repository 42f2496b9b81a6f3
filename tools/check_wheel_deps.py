#!/usr/bin/env python3
"""Prove that every wheel cibuildwheel builds can get its build and test requirements as wheels.

For each identifier ``cibuildwheel --print-build-identifiers --archs all`` lists for linux, macos
and windows (the project's build/skip selection applied), pip resolves, binary wheels only and
from the package index (``--only-binary=:all: --platform TAG... --python-version X.Y``):

- the build requirements: ``[build-system] requires`` plus the cmake and ninja that
  scikit-build-core installs where the machine has none, for the platform the build runs on;
- the wheel-test requirements: the project's dependencies (installing the wheel pulls them) and
  the ``test-extras``, ``test-groups`` and ``test-requires`` cibuildwheel uses for that identifier
  (``[[tool.cibuildwheel.overrides]]`` applied), for the platform the tests run on.

pip reads the wheels' metadata (PyPI serves it on its own for most releases; for the few
without, e.g. numpy 2.5, pip downloads the wheel) and installs nothing. It reads the index through
a local copy of each project page that keeps only the wheels CPython 3.11-3.14 could install
(TrimmedIndex): the same choices, a fraction of the links to parse, each page fetched once. The
wheel builds set PIP_ONLY_BINARY=:all: too, so pip there picks what it picks here. Exits 1
naming each identifier and each requirement that has no wheel for it; needs pip >= 25.

Platform tags (what pip on the build machine accepts):
- manylinux: the image's glibc (manylinux_2_28 -> manylinux_2_28 ... manylinux_2_17, manylinux2014,
  and down to manylinux1 on x86_64), builds and tests inside the image;
- musllinux: the image's musl (musllinux_1_2 -> musllinux_1_2, 1_1, 1_0);
- macOS: builds and tests run on the runner, macOS 15 (macos-15-intel, macos-15); the built wheel
  targets MACOSX_DEPLOYMENT_TARGET but the environments it needs are installed on the runner;
- Windows: win_amd64 (windows-2025), win_arm64 (windows-11-arm).

Usage: python tools/check_wheel_deps.py [--only IDENTIFIER] [--jobs N] [--index-url URL]
"""

import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.tags import mac_platforms
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("linux", "macos", "windows")
MACOS_RUNNER_VERSION = (15, 0)  # macos-15-intel and macos-15 in .github/workflows/wheels.yml
# cibuildwheel's own defaults for the images (cibuildwheel/resources/defaults.toml)
DEFAULT_IMAGES = {"manylinux": "manylinux_2_28", "musllinux": "musllinux_1_2"}
MINIMUM_PIP = 25
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}  # PEP 600 aliases


def build_identifiers(root=ROOT):
    """Every identifier cibuildwheel builds for this project, on any runner."""
    identifiers = []
    for platform in PLATFORMS:
        result = subprocess.run(
            [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers",
             "--platform", platform, "--archs", "all", str(root)],
            capture_output=True, text=True, check=True)
        identifiers += result.stdout.split()
    return identifiers


def cibuildwheel_option(config, identifier, name, default):
    """The value of option ``name`` when cibuildwheel builds ``identifier``: [tool.cibuildwheel],
    then its platform table, then each matching [[tool.cibuildwheel.overrides]] (the last wins;
    ``select`` as fnmatch patterns, without cibuildwheel's {a,b} braces)."""
    platform = platform_of(identifier)
    value = config.get(platform, {}).get(name, config.get(name, default))
    for override in config.get("overrides", []):
        select = override["select"]
        patterns = select.split() if isinstance(select, str) else select
        if name in override and any(fnmatch(identifier, pattern) for pattern in patterns):
            value = override[name]
    return value


def as_list(value, separator=None):
    """An option given as a TOML list or as one string of items."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(separator) if item.strip()]
    return list(value)


def platform_of(identifier):
    """'cp311-win_arm64' -> 'windows' (the --platform of cibuildwheel that builds it)."""
    tag = identifier.split("-", 1)[1]
    return "macos" if tag.startswith("macosx") else "windows" if tag.startswith("win") else "linux"


def python_version(identifier):
    """'cp314-...' -> '3.14'."""
    digits = re.fullmatch(r"cp(\d)(\d+)", identifier.split("-", 1)[0]).groups()
    return ".".join(digits)


def manylinux_tags(glibc_minor, arch):
    """The platform tags a manylinux image with glibc 2.<glibc_minor> accepts (newest first)."""
    oldest = 5 if arch in ("x86_64", "i686") else 17  # manylinux2014 introduced the other archs
    tags = []
    for minor in range(glibc_minor, oldest - 1, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in LEGACY_MANYLINUX:
            tags.append(f"{LEGACY_MANYLINUX[minor]}_{arch}")
    return tags


def platform_tags(identifier, config):
    """The platform tags of the wheels pip installs where ``identifier`` is built and tested."""
    tag = identifier.split("-", 1)[1]
    kind, arch = tag.split("_", 1)
    if kind in DEFAULT_IMAGES:  # manylinux, musllinux: inside the image
        image = cibuildwheel_option(config, identifier, f"{kind}-{arch}-image", DEFAULT_IMAGES[kind])
        if kind == "manylinux":
            if "manylinux2014" in image:
                return manylinux_tags(17, arch)
            match = re.search(r"manylinux_2_(\d+)", image)
            if match is None:
                raise SystemExit(f"{identifier}: unknown manylinux image {image!r}")
            return manylinux_tags(int(match.group(1)), arch)
        match = re.search(r"musllinux_1_(\d+)", image)
        if match is None:
            raise SystemExit(f"{identifier}: unknown musllinux image {image!r}")
        return [f"musllinux_1_{minor}_{arch}" for minor in range(int(match.group(1)), -1, -1)]
    if kind == "macosx":  # on the runner
        return list(mac_platforms(MACOS_RUNNER_VERSION, arch))
    return [tag]  # win_amd64, win_arm64


def dependency_group(pyproject, name):
    """The requirements of a PEP 735 dependency group, included groups expanded."""
    requirements = []
    for item in pyproject["dependency-groups"][name]:
        if isinstance(item, dict):
            requirements += dependency_group(pyproject, item["include-group"])
        else:
            requirements.append(item)
    return requirements


def build_requirements(pyproject, root=ROOT):
    """[build-system] requires, plus the cmake and ninja scikit-build-core installs where the
    machine has none (cmake at least CMakeLists.txt's cmake_minimum_required)."""
    cmake_minimum = re.search(r"cmake_minimum_required\(VERSION (\d+\.\d+)",
                              (root / "CMakeLists.txt").read_text()).group(1)
    return [*pyproject["build-system"]["requires"], f"cmake>={cmake_minimum}", "ninja>=1.5"]


def test_requirements(pyproject, config, identifier):
    """What cibuildwheel installs to test the wheel of ``identifier``: the wheel's dependencies,
    its test extras, the test groups and test-requires."""
    project = pyproject["project"]
    requirements = list(project.get("dependencies", []))
    for extra in as_list(cibuildwheel_option(config, identifier, "test-extras", []), ","):
        requirements += project["optional-dependencies"][extra]
    for group in as_list(cibuildwheel_option(config, identifier, "test-groups", [])):
        requirements += dependency_group(pyproject, group)
    requirements += as_list(cibuildwheel_option(config, identifier, "test-requires", []))
    return list(dict.fromkeys(requirements))


def pip_environment():
    """The environment for pip: the index only, no local pip configuration (find-links, extra
    indexes, constraints of this machine are not what the wheel builds see)."""
    keep = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_PROXY"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in keep}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def for_cpython(filename, minors):
    """Whether CPython 3.<minor> (any of ``minors``) could install this file: a wheel tagged for
    it, for py3 or abi3; not an sdist (pip takes wheels only here), not another Python's wheel."""
    if not filename.endswith(".whl"):
        return False
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return True  # pip decides
    for tag in tags:
        match = re.fullmatch(r"cp3(\d+)", tag.interpreter)
        if tag.interpreter.startswith("py3") or match and (
                int(match.group(1)) in minors or tag.abi == "abi3" and int(match.group(1)) <= max(minors)):
            return True
    return False


class TrimmedIndex(ThreadingHTTPServer):
    """A local copy of the index's project pages (PEP 691 JSON) holding only the files that
    for_cpython keeps: pip, run 32 times, parses a tenth of PyPI's links and fetches each page
    once, and picks what it would pick from the full pages (it drops the other files itself)."""

    def __init__(self, upstream, minors):
        self.upstream, self.minors, self.pages, self.lock = upstream.rstrip("/"), minors, {}, threading.Lock()
        cafile = os.environ.get("PIP_CERT")  # the certificates pip would use, if set
        self.context = ssl.create_default_context(cafile=cafile if cafile and os.path.isfile(cafile) else None)
        super().__init__(("127.0.0.1", 0), TrimmedIndexHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/simple"

    def page(self, project):
        """(status, content type, body) of the trimmed page of ``project``."""
        with self.lock:
            if project in self.pages:
                return self.pages[project]
        request = urllib.request.Request(f"{self.upstream}/{project}/",
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=120) as response:
                content_type, body = response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            return error.code, "text/plain", b""
        if content_type == "application/vnd.pypi.simple.v1+json":
            page = json.loads(body)
            page["files"] = [f for f in page["files"] if for_cpython(f["filename"], self.minors)]
            body = json.dumps(page).encode()
        with self.lock:
            self.pages[project] = (200, content_type, body)
        return self.pages[project]


class TrimmedIndexHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        project = self.path.removeprefix("/simple/").strip("/")
        status, content_type, body = self.server.page(project)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


def resolve(requirements, tags, python, index_url):
    """pip's binary-only resolution: (the {name: version} it installs, None), or (None, pip's error)."""
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                   "--disable-pip-version-check", "--ignore-installed", "--only-binary=:all:",
                   "--target", str(Path(work) / "target"), "--report", str(report),
                   "--index-url", index_url, "--implementation", "cp", "--python-version", python]
        for tag in tags:
            command += ["--platform", tag]
        result = subprocess.run(command + list(requirements), capture_output=True, text=True,
                                env=pip_environment())
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
            return None, "\n".join(errors) or result.stderr.strip()
        installed = json.loads(report.read_text())["install"]
        return {item["metadata"]["name"]: item["metadata"]["version"] for item in installed}, None


def missing_wheels(requirements, tags, python, index_url, error):
    """The requirements pip finds no wheel for: the one its error names, then, without it,
    the next one, and so on (a dependency of a requirement is named as such)."""
    missing, remaining = [], list(requirements)
    while error is not None:
        match = re.search(r"No matching distribution found for (\S+)", error)
        if match is None:  # a conflict between requirements, or no index: pip's error says
            break
        missing.append(match.group(1))
        if match.group(1) not in remaining:  # (of a dependency of some requirement)
            break
        remaining.remove(match.group(1))
        error = resolve(remaining, tags, python, index_url)[1] if remaining else None
    return missing


def check(identifier, pyproject, config, index_url):
    """One identifier: (ok, the lines to print).

    The build and the tests use separate environments on the same machine (the same tags). One
    resolution of both lists together proves both (every package it picks is a wheel, and any
    part of a solution solves a part of the requirements); only where it fails is each list
    resolved on its own, to name what has no wheel.
    """
    python, tags = python_version(identifier), platform_tags(identifier, config)
    build = build_requirements(pyproject)
    test = test_requirements(pyproject, config, identifier)
    versions, _ = resolve(build + test, tags, python, index_url)
    if versions is not None:
        shown = ", ".join(f"{name} {versions[name]}" for name in ("numpy", "scipy") if name in versions)
        return True, [f"ok   {identifier}: build and test requirements, {len(versions)} wheels ({shown})"]
    lines = []
    for what, requirements in (("build", build), ("test", test)):
        versions, error = resolve(requirements, tags, python, index_url)
        if versions is None:
            missing = missing_wheels(requirements, tags, python, index_url, error)
            if missing:
                lines.append(f"FAIL {identifier}: {what} requirements: no wheel of "
                             f"{', '.join(missing)} for CPython {python} on {tags[0]}")
            else:
                lines.append(f"FAIL {identifier}: {what} requirements do not resolve as "
                             f"wheels for CPython {python} on {tags[0]}:\n    "
                             + error.replace("\n", "\n    "))
    if not lines:  # each resolves alone (they only conflict together, in separate environments)
        lines.append(f"ok   {identifier}: build and test requirements, each on its own")
    return not lines[0].startswith("FAIL"), lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="check one identifier (e.g. cp314-musllinux_x86_64)")
    parser.add_argument("--jobs", type=int, default=8, help="identifiers resolved at once")
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    args = parser.parse_args(argv)
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True,
                         text=True, check=True).stdout.split()[1]
    if int(pip.split(".")[0]) < MINIMUM_PIP:  # (pip 23 resolves differently: not numpy 2.5)
        parser.error(f"pip {pip} is older than the wheel builds' (cibuildwheel pins pip 26): "
                     f"python -m pip install --upgrade pip")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    config = pyproject["tool"]["cibuildwheel"]
    identifiers = build_identifiers()
    if args.only:
        if args.only not in identifiers:
            parser.error(f"--only {args.only}: not built; cibuildwheel builds {' '.join(identifiers)}")
        identifiers = [args.only]
    start = time.monotonic()
    index = TrimmedIndex(args.index_url, {int(python_version(i).split(".")[1]) for i in identifiers})
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda i: check(i, pyproject, config, index.url), identifiers))
    index.shutdown()
    for _, lines in results:
        print("\n".join(lines))
    failed = [i for i, (ok, _) in zip(identifiers, results) if not ok]
    seconds = f"({time.monotonic() - start:.0f} s)"
    if failed:
        print(f"check_wheel_deps: {len(failed)} of {len(identifiers)} identifiers lack wheels: "
              + " ".join(failed), seconds)
        return 1
    print(f"check_wheel_deps: all {len(identifiers)} identifiers resolve as wheels only", seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
