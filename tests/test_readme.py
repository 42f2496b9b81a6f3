"""Every code block of README.md runs, so the README cannot drift from the code.

Rules for whoever edits README.md (the blocks are found by Sybil):

- A ```python block runs; all of them run in order in one namespace, as one script
  would. A ```bash (or sh, shell, console) block runs each command line in bash
  (where lines start with a `$ ` prompt, only those: the others are output).
  Fences without a language (program output, usage synopses) are text.
- Both run in a scratch folder laid out like the project machine: the working
  directory is an empty <tmp>/checkout whose ../shared/data/mnist holds the
  MNIST files; $CYMLP_DATA is unset and the cache folder is empty, as for a new
  user. So every example names its data (as `--data`, `CYMLP_DATA=` or a path).
- Long runs are shortened: `epochs=N` and `max_iter=N` in Python become 1, and
  every `cymlp train` / `cymlp reproduce` runs with `--epochs 1`.
- In a command line, the steps joined by `&&` that set up (`python3 -m venv`,
  activating it, `pip install`) or run this test suite (`pytest`) are left out:
  the package under test is installed already.
- A block that must not run at all gets `<!-- skip: next -->` on the line
  before it (Sybil's marker), and is reported as skipped.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pytest

pytest.importorskip("sybil", reason="the README runner is in the [test] extra")  # CI installs it

from sybil import Sybil  # noqa: E402
from sybil.parsers.markdown import CodeBlockParser, SkipParser  # noqa: E402

SHELLS = ("bash", "sh", "shell", "console")
# fence languages that look runnable but would be silently ignored: use python or bash
NOT_RUN_ALIASES = {"py", "python3", "pycon", "ipython", "zsh", "sh-session", "shell-session"}


def readme_text():
    """README.md beside tests/, or (a copy of tests/ run against an installed wheel) the
    README the package was built with, from its metadata."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if readme.is_file():
        return readme
    text = importlib.metadata.metadata("cymlp").get_payload()
    assert text and "cymlp" in text, "neither README.md beside tests/ nor in cymlp's metadata"
    copy = Path(tempfile.mkdtemp()) / "README.md"
    copy.write_text(text, encoding="utf-8")
    return copy


def run_python(example):
    source = re.sub(r"\b(epochs|max_iter)=\d+", r"\1=1", example.parsed)
    padding = "\n" * (example.line + example.parsed.line_offset)  # README line numbers in tracebacks
    exec(compile(padding + source, example.path, "exec"), example.namespace)


SETUP_STEP = re.compile(r"(python3? -m venv|(\.|source) \S*activate|(python3? -m )?pip install)\b|.*\bpytest\b")


def command_lines(source):
    """The command lines of a shell block: continued lines joined, comments dropped; where
    some lines start with a `$ ` prompt, only those (the others are their output)."""
    lines = [line.strip() for line in source.replace("\\\n", " ").splitlines()]
    if any(line.startswith("$ ") for line in lines):
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    return [line for line in lines if line and not line.startswith("#")]


def shortened(line):
    """The line without its set-up steps, every `cymlp train|reproduce` with --epochs 1."""
    steps = []
    for step in (step.strip() for step in line.split("&&")):
        if SETUP_STEP.match(step):
            continue
        if re.search(r"\bcymlp (train|reproduce)\b", step):
            step = re.sub(r"\s--epochs[ =]\d+", "", step) + " --epochs 1"
        steps.append(step)
    return " && ".join(steps)


def run_commands(example):
    for line in command_lines(example.parsed):
        command = shortened(line)
        if not command:
            continue
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (
            f"README line {example.line}: `{command}` exited with {result.returncode}:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )


PARSERS = [SkipParser(), CodeBlockParser("python", run_python),
           *(CodeBlockParser(language, run_commands) for language in SHELLS)]
README = readme_text()
DOCUMENT = Sybil(PARSERS).parse(README)
EXAMPLES = list(DOCUMENT)
CODE = [i for i, example in enumerate(EXAMPLES) if example.region.evaluator in (run_python, run_commands)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, mnist_dir):
    """<tmp>/checkout, with the MNIST files in <tmp>/shared/data/mnist."""
    root = tmp_path_factory.mktemp("readme")
    (root / "checkout").mkdir()
    (root / "shared" / "data").mkdir(parents=True)
    try:
        (root / "shared" / "data" / "mnist").symlink_to(mnist_dir.resolve(), target_is_directory=True)
    except OSError:  # no symlinks (Windows without the privilege)
        shutil.copytree(mnist_dir, root / "shared" / "data" / "mnist")
    return root


@pytest.fixture
def as_a_new_user(scratch, monkeypatch):
    monkeypatch.chdir(scratch / "checkout")
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(scratch / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # `cymlp` and `python` are this interpreter's, as in an activated venv
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


evaluated = []  # how many of EXAMPLES have run, in order


@pytest.mark.parametrize("index", CODE, ids=[f"line {EXAMPLES[i].line}" for i in CODE])
def test_readme_block_runs(index, as_a_new_user):
    # the blocks before this one first (a block uses what earlier ones defined)
    while len(evaluated) < index:
        evaluated.append(True)
        try:
            EXAMPLES[len(evaluated) - 1].evaluate()
        except unittest.SkipTest:
            pass
    evaluated.append(True)
    EXAMPLES[index].evaluate()


def test_the_readme_blocks_are_all_found():
    fences = re.findall(r"^```(\S*)", README.read_text(encoding="utf-8"), flags=re.MULTILINE)
    languages = fences[::2]  # opening fences (each block has an opening and a closing one)
    aliases = sorted(set(languages) & NOT_RUN_ALIASES)
    assert not aliases, f"README.md: use ```python or ```bash, not {aliases}: they would not run"
    runnable = [language for language in languages if language in ("python", *SHELLS)]
    assert len(runnable) == len(CODE) >= 5, (languages, len(CODE))
