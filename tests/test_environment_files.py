"""pyproject.toml and environment.yml pin the same packages; the installed ones match the pins."""
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins(extras=("dev",)):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    pins = {}
    for spec in specs:
        match = PIN.match(spec.strip())
        assert match, f"pyproject.toml: {spec!r} is not pinned with =="
        pins[_normalise(match.group(1))] = match.group(2)
    return pins


def environment_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml must have one pip: section"
    pins = {}
    for spec in pip_lists[0]:
        if spec.startswith("-e"):
            continue
        match = PIN.match(spec.strip())
        assert match, f"environment.yml: {spec!r} is not pinned with =="
        pins[_normalise(match.group(1))] = match.group(2)
    python = [d for d in deps if isinstance(d, str) and d.startswith("python=")]
    return pins, python


def test_environment_yml_lists_the_same_pins_as_pyproject():
    env_pins, python = environment_pins()
    assert env_pins == pyproject_pins()
    assert python == ["python=3.11"]


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert pyproject_pins()["torch"] == "2.13.0"


def test_installed_versions_match_the_pins():
    for name, pinned in pyproject_pins().items():
        installed = version(name).split("+")[0]     # torch reports 2.13.0+cpu
        assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}"
