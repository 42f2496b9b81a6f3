"""Package metadata, the build requirements, the cibuildwheel configuration and the wheel
workflow (checked offline: tools/check_wheel_deps.py, run by .ci/run, asks PyPI)."""

import dataclasses
import importlib.metadata
import importlib.resources
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

import cymlp

SOURCE = Path(__file__).resolve().parents[1]
needs_source = pytest.mark.skipif(not (SOURCE / "pyproject.toml").is_file(),
                                  reason="run from a copy of tests/ (the wheel checks): no source tree here")


def test_version_is_single_sourced_and_typed():
    assert cymlp.__version__ == importlib.metadata.version("cymlp")
    assert importlib.resources.files("cymlp").joinpath("py.typed").is_file()
    meta = importlib.metadata.metadata("cymlp")
    assert meta["License-Expression"] == "MIT" and "numpy>=1.25" in meta.get_all("Requires-Dist")


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, SOURCE / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deps_tool():
    return load_tool("check_wheel_deps")


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((SOURCE / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def identifiers(deps_tool):
    return deps_tool.build_identifiers(SOURCE)


def requirement_name(requirement):
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower()


# --- what gets built ---------------------------------------------------------------------------

@needs_source
def test_cibuildwheel_builds_cpython_311_to_314_natively_on_six_runners(identifiers):
    tags = ["manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64", "musllinux_aarch64",
            "macosx_x86_64", "macosx_arm64", "win_amd64", "win_arm64"]
    # --archs all: nothing the runners cannot build natively (no emulation, no universal2, no 32-bit)
    assert sorted(identifiers) == sorted(f"cp3{minor}-{tag}" for minor in (11, 12, 13, 14) for tag in tags)


@needs_source
def test_build_requires_only_what_the_build_uses(pyproject):
    """Cython reads the .pxd of every package the core cimports from; nothing else is needed
    besides the build backend. The core uses no NumPy C API, so numpy is not a build requirement
    (tools/check_wheel.sh, in .ci/run, builds the wheel in an isolated environment from this list)."""
    sources = "\n".join(path.read_text() for path in (SOURCE / "csrc").iterdir())
    cimported = set(re.findall(r"^\s*from\s+(\w+)[\w.]*\s+cimport", sources, re.MULTILINE))
    cimported |= set(re.findall(r"^\s*cimport\s+(\w+)", sources, re.MULTILINE))
    third_party = cimported - {"libc", "libcpp", "cython", "cpython", "posix", "cymlp"}
    assert third_party == {"scipy"}
    requires = {requirement_name(r) for r in pyproject["build-system"]["requires"]}
    assert requires == {"scikit-build-core", "cython", "cython-cmake"} | third_party
    cmake_code = [line.split("#")[0] for line in (SOURCE / "CMakeLists.txt").read_text().splitlines()]
    assert not any("numpy" in line.lower() or "NPY_" in line for line in cmake_code)


# --- tools/check_wheel_deps.py -----------------------------------------------------------------

@needs_source
def test_platform_tags_are_what_pip_accepts_in_each_image_and_runner(deps_tool, pyproject):
    config = pyproject["tool"]["cibuildwheel"]
    tags = deps_tool.platform_tags("cp312-manylinux_x86_64", config)
    assert tags[0] == "manylinux_2_28_x86_64"  # the image's glibc, then every older one
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64",
            "manylinux1_x86_64"} <= set(tags)
    assert not any(re.search(r"manylinux_2_(29|3\d)", tag) or "aarch64" in tag for tag in tags)
    tags = deps_tool.platform_tags("cp312-manylinux_aarch64", config)
    assert tags[0] == "manylinux_2_28_aarch64" and tags[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_16_aarch64" not in tags and "manylinux1_aarch64" not in tags
    assert deps_tool.platform_tags("cp312-musllinux_aarch64", config) == [
        "musllinux_1_2_aarch64", "musllinux_1_1_aarch64", "musllinux_1_0_aarch64"]
    old_image = {**config, "linux": {"manylinux-x86_64-image": "manylinux2014"}}
    assert deps_tool.platform_tags("cp312-manylinux_x86_64", old_image)[0] == "manylinux_2_17_x86_64"
    tags = deps_tool.platform_tags("cp312-macosx_arm64", config)  # the runner's macOS, 15
    assert tags[0] == "macosx_15_0_arm64" and "macosx_11_0_arm64" in tags
    assert not any("x86_64" in tag or "macosx_16" in tag for tag in tags)
    assert deps_tool.platform_tags("cp312-macosx_x86_64", config)[0] == "macosx_15_0_x86_64"
    assert deps_tool.platform_tags("cp313-win_arm64", config) == ["win_arm64"]
    assert deps_tool.python_version("cp314-win_amd64") == "3.14"


@needs_source
def test_test_requirements_are_what_cibuildwheel_installs(deps_tool, pyproject, identifiers):
    """The tool's reading of [tool.cibuildwheel] (overrides included) against cibuildwheel's own,
    for every identifier: the slim set on musllinux, the [test] extra elsewhere."""
    from cibuildwheel.options import CommandLineArguments, compute_options

    config, project = pyproject["tool"]["cibuildwheel"], pyproject["project"]
    slim, full = set(), set()
    for platform in deps_tool.PLATFORMS:
        arguments = dataclasses.replace(CommandLineArguments.defaults(), platform=platform,
                                        archs="all", package_dir=SOURCE)
        options = compute_options(platform, arguments, {})
        for identifier in (i for i in identifiers if deps_tool.platform_of(i) == platform):
            theirs = options.build_options(identifier)
            extras = theirs.test_extras.strip("[]").split(",") if theirs.test_extras else []
            want = list(project["dependencies"]) + theirs.test_requires
            want += [r for extra in extras for r in project["optional-dependencies"][extra]]
            mine = deps_tool.test_requirements(pyproject, config, identifier)
            assert sorted(mine) == sorted(set(want)), identifier
            assert "PIP_ONLY_BINARY" in theirs.environment.as_dictionary({}), identifier
            (slim if "musllinux" in identifier else full).add(tuple(mine))
            if platform == "linux":  # the image cibuildwheel will pull has the glibc the tool assumes
                kind, arch = identifier.split("-")[1].split("_", 1)
                image = (theirs.manylinux_images if kind == "manylinux" else theirs.musllinux_images)[arch]
                assert deps_tool.platform_tags(identifier, config)[0].removesuffix(f"_{arch}") in image
    assert len(slim) == len(full) == 1
    assert not {requirement_name(r) for r in slim.pop()} & {"scikit-learn", "matplotlib", "pandas"}
    assert {"scikit-learn", "matplotlib", "pandas"} <= {requirement_name(r) for r in full.pop()}
    # the slim set is a part of the [test] extra, so .ci/run has all of it
    assert set(pyproject["dependency-groups"]["test-slim"]) <= set(project["optional-dependencies"]["test"])


NO_SKLEARN = ("ERROR: Could not find a version that satisfies the requirement scikit-learn>=1.6 "
              "(from versions: none)\nERROR: No matching distribution found for scikit-learn>=1.6")


@needs_source
def test_a_missing_wheel_fails_naming_the_identifier_and_the_package(deps_tool, pyproject,
                                                                     monkeypatch, capsys):
    calls = []

    def fake_resolve(requirements, tags, python, index_url):  # PyPI, with no scikit-learn wheel
        calls.append((tuple(requirements), tags[0], python))
        if "scikit-learn>=1.6" in requirements and tags[0].startswith("musllinux"):
            return None, NO_SKLEARN
        return {"numpy": "2.3.0", "scipy": "1.16.0"}, None

    monkeypatch.setattr(deps_tool, "resolve", fake_resolve)
    monkeypatch.setattr(deps_tool, "MINIMUM_PIP", 0)  # (pip is not run here)
    monkeypatch.setattr(deps_tool, "build_identifiers",
                        lambda root=None: ["cp314-musllinux_aarch64", "cp311-win_amd64"])
    # as if musllinux tested with the full [test] extra
    no_slim = {**pyproject["tool"]["cibuildwheel"], "overrides": []}
    monkeypatch.setattr(deps_tool.tomllib, "loads", lambda text: {
        **pyproject, "tool": {"cibuildwheel": no_slim}})
    assert deps_tool.main(["--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert ("FAIL cp314-musllinux_aarch64: test requirements: no wheel of scikit-learn>=1.6 "
            "for CPython 3.14 on musllinux_1_2_aarch64") in out
    assert "ok   cp311-win_amd64: build and test requirements" in out
    assert "1 of 2 identifiers lack wheels: cp314-musllinux_aarch64" in out
    assert "FAIL cp314-musllinux_aarch64: build" not in out  # the build requirements resolved
    assert [call[1] for call in calls].count("win_amd64") == 1  # one resolution where all is well
    monkeypatch.setattr(deps_tool.tomllib, "loads", lambda text: pyproject)  # with the slim set
    assert deps_tool.main(["--jobs", "1"]) == 0
    assert "all 2 identifiers resolve as wheels only" in capsys.readouterr().out


@needs_source
def test_the_trimmed_index_keeps_every_wheel_a_checked_cpython_could_install(deps_tool, tmp_path):
    keep = ["numpy-2.5.5-cp313-cp313-win_arm64.whl", "scipy-1.17.1-cp311-cp311-musllinux_1_2_x86_64.whl",
            "pytest-9.2.0-py3-none-any.whl", "six-1.17.0-py2.py3-none-any.whl",
            "cryptography-46.0.1-cp39-abi3-manylinux_2_28_x86_64.whl"]  # abi3 from 3.9 on: 3.11 too
    drop = ["numpy-2.5.5.tar.gz", "numpy-1.26.4-cp310-cp310-win_amd64.whl",
            "numpy-2.5.5-cp315-cp315-win_amd64.whl", "numpy-2.5.5-pp311-pypy311_pp73-win_amd64.whl",
            "cryptography-46.0.1-cp315-abi3-win_amd64.whl", "futures-3.0.5-py2-none-any.whl"]
    minors = {11, 12, 13, 14}
    assert [name for name in keep + drop if deps_tool.for_cpython(name, minors)] == keep
    # served from a local "PyPI" page: the same page, less the files no checked CPython installs
    import http.server
    import json
    import threading
    import urllib.request

    page = {"meta": {"api-version": "1.1"}, "name": "numpy",
            "files": [{"filename": name, "url": f"https://files.example/{name}"} for name in keep + drop]}

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(page).encode()
            self.send_response(200 if self.path == "/simple/numpy/" else 404)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    index = deps_tool.TrimmedIndex(f"http://127.0.0.1:{upstream.server_address[1]}/simple", minors)
    try:
        with urllib.request.urlopen(f"{index.url}/numpy/") as response:
            served = json.loads(response.read())
        assert served == {**page, "files": page["files"][:len(keep)]}
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{index.url}/no-such-project/")
    finally:
        index.shutdown()
        upstream.shutdown()


@needs_source
def test_build_requirements_include_what_scikit_build_core_may_add(deps_tool, pyproject):
    requirements = deps_tool.build_requirements(pyproject, SOURCE)
    assert requirements[:-2] == pyproject["build-system"]["requires"]
    assert requirements[-2:] == ["cmake>=3.15", "ninja>=1.5"]


# --- .github/workflows/wheels.yml --------------------------------------------------------------

@pytest.fixture(scope="module")
def workflow():
    return (SOURCE / ".github" / "workflows" / "wheels.yml").read_text()


def job(workflow, name):
    """The text of one job of the workflow (its indented block under jobs:)."""
    match = re.search(rf"^  {name}:\n((?:    .*\n|\s*\n)+)", workflow, re.MULTILINE)
    assert match, f"no job {name!r} in the workflow"
    return match.group(1)


@needs_source
def test_workflow_checkouts_keep_no_credentials(workflow):
    steps = re.split(r"\n\s+- ", workflow)
    checkouts = [step for step in steps if step.lstrip().startswith("uses: actions/checkout@")]
    assert len(checkouts) == 3
    assert all(re.search(r"persist-credentials: false\b", step) for step in checkouts)


@needs_source
def test_workflow_runners_are_current_and_build_every_identifier(workflow, identifiers, deps_tool):
    runners = re.findall(r"^\s+- ((?:ubuntu|macos|windows)[\w.-]*)", job(workflow, "wheels"), re.MULTILINE)
    retired = {"macos-11", "macos-12", "macos-13", "ubuntu-18.04", "ubuntu-20.04", "windows-2019"}
    assert runners and not set(runners) & retired
    arch_of = {"ubuntu-24.04": "x86_64", "ubuntu-24.04-arm": "aarch64", "macos-15-intel": "x86_64",
               "macos-15": "arm64", "windows-2025": "amd64", "windows-11-arm": "arm64"}
    assert set(runners) == set(arch_of)
    for identifier in identifiers:  # a native runner for each: os and CPU
        platform, arch = deps_tool.platform_of(identifier), identifier.split("-")[1].split("_", 1)[1]
        prefix = {"linux": "ubuntu", "macos": "macos", "windows": "windows"}[platform]
        assert any(r.startswith(prefix) and arch_of[r] == arch for r in runners), identifier
    # the tool assumes the macOS runners' version
    assert {r.split("-")[1] for r in runners if r.startswith("macos")} == {
        str(deps_tool.MACOS_RUNNER_VERSION[0])}
    version = int(re.search(r"pypa/cibuildwheel@v(\d+)", workflow).group(1))
    assert version >= 3  # test-groups, manylinux_2_28 images by default


@needs_source
def test_workflow_builds_and_tests_the_sdist(workflow):
    sdist = job(workflow, "sdist")
    assert "build --sdist" in sdist
    assert re.search(r"pip install \"cymlp\[test\] @ file://\$sdist\"", sdist)
    assert "-m pytest" in sdist.split("pip install \"cymlp[test]")[1]


@needs_source
def test_publish_refuses_a_tag_that_is_not_the_package_version(workflow, tmp_path):
    publish = job(workflow, "publish")
    guard = publish.index('run: python3 tools/check_release_tag.py "$TAG" dist')
    assert "TAG: ${{ github.ref_name }}" in publish
    assert guard < publish.index("uses: pypa/gh-action-pypi-publish")  # before the upload
    tool = load_tool("check_release_tag")
    for name in (f"cymlp-{cymlp.__version__}.tar.gz",
                 f"cymlp-{cymlp.__version__}-cp311-cp311-win_amd64.whl"):
        (tmp_path / name).touch()
    assert tool.main([f"v{cymlp.__version__}", str(tmp_path)]) == 0
    assert tool.main(["v9.9.9", str(tmp_path)]) == 1
    assert tool.problems("v9.9.9", tmp_path) == [
        f"tag v9.9.9 is not the package version v{cymlp.__version__} (src/cymlp/__init__.py)"]
    (tmp_path / "cymlp-9.9.9-cp312-cp312-win_amd64.whl").touch()  # a stray older build
    assert tool.problems(f"v{cymlp.__version__}", tmp_path) == [
        f"cymlp-9.9.9-cp312-cp312-win_amd64.whl is not a distribution of cymlp {cymlp.__version__}"]
