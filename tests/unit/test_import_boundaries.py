"""The import boundaries (the import-linter contracts in pyproject.toml) hold, and a wrong
arrow breaks them: the build fails on it, naming the contract."""
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "kit", "services", "gateway", "infra")
CONTRACTS = [c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())
             ["tool"]["importlinter"]["contracts"]]


def lint_imports(root):
    """lint-imports run on the tree at `root`: (exit status, its report)."""
    program = (shutil.which("lint-imports", path=str(Path(sys.executable).parent))
               or shutil.which("lint-imports"))
    assert program, "import-linter is not installed (pip install -e '.[test]')"
    done = subprocess.run([program, "--no-cache", "--no-logo"], cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="500", NO_COLOR="1"), timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_every_contract_is_kept():
    status, report = lint_imports(ROOT)
    assert status == 0, report
    for name in CONTRACTS:
        assert f"{name} KEPT" in report, report


@pytest.fixture
def tree(tmp_path):
    """A copy of the packages and their contracts, to add a wrong import to."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize("module, wrong_import, contract", [
    ("contracts/vocabulary.py", "from services.enterprise import domain",
     "The contracts import no service, kit, gateway or framework"),
    ("services/dispatch/domain.py", "from kit import schemas",
     "Domain modules import only the standard library, their own exceptions and the contracts"),
    ("services/enterprise/domain.py", "from contracts import events",  # which needs marshmallow
     "Domain modules import only the standard library, their own exceptions and the contracts"),
    ("kit/errors.py", "from nameko.exceptions import deserialize_to_instance",
     "kit.errors imports no framework"),
    ("services/dispatch/handlers.py", "from services.enterprise.exceptions import "
                                      "EnterpriseNotFound",
     "No service imports another service"),
    ("gateway/errors.py", "from services.dispatch import exceptions",
     "The gateway imports no service"),
    ("kit/storage.py", "from gateway import idempotency",
     "The kit imports no service and no gateway"),
])
def test_a_wrong_import_breaks_the_build_naming_its_contract(tree, module, wrong_import,
                                                             contract):
    assert contract in CONTRACTS
    path = tree / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # the wrong arrow\n")

    status, report = lint_imports(tree)

    assert status != 0, report
    assert f"{contract} BROKEN" in report, report
    assert module.removesuffix(".py").replace("/", ".") in report, report
