"""Seed ansible-test's cache with a pip bootstrap script that works without the internet.

ansible-test bootstraps pip in the virtual environments it creates by downloading
get-pip.py, and that address is not reachable from our machines. When a script is
already at the cache path, ansible-test runs it instead. Ours runs ensurepip and then
pip with the arguments ansible-test passes (the pip version it wants, its options).
Run with the Python of the environment ansible-test is installed in.
"""

import os
import types

from ansible_test._internal.python_requirements import get_venv_packages

SCRIPT = """\
# Stand-in for get-pip.py, written by learnhpc.cluster's scripts/seed_ansible_test_bootstrap.py.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
"""


def main():
    version = get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"]
    path = os.path.expanduser(f"~/.ansible/test/cache/get_pip_{version.replace('.', '_')}.py")
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == SCRIPT:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(SCRIPT)


if __name__ == "__main__":
    main()
