"""Look for an event's secrets in what the control machine printed and logged.

    secrets_scan.py --secrets DIR [--secrets DIR ...] LOG [LOG ...]

The secrets are every file of the DIRs (the event's state directory, and copies of the
nodes' own secrets) but the public ones (certificates,
public keys, known_hosts, the reap log, the credentials sheets, which only gather the
passwords of passwords/): a password file's password, each base64 line of a PEM private
key, and a binary key (MUNGE) in base64 and hex. Each is searched for, as it is, in every
LOG. Prints one JSON object: how many secrets from how many files, and where any was
found (file names only; never a secret).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys

PUBLIC_SUFFIXES = (".crt", ".pub", ".csv", ".html", ".log")
PUBLIC_NAMES = ("known_hosts",)
MIN_LENGTH = 8


def secrets_of(path):
    """The strings of one secret file that must never be printed."""
    with open(path, "rb") as stream:
        data = stream.read()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return [base64.b64encode(data).decode(), data.hex()]
    if "PRIVATE KEY-----" in text:
        return [line for line in text.splitlines() if len(line) >= 40 and not line.startswith("-----")]
    words = text.split()
    if not words:
        return []
    # A password lookup's file: the password, then perhaps " salt=..." or " ident=...".
    return [words[0]] if len(words[0]) >= MIN_LENGTH else []


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", action="append", required=True)
    parser.add_argument("logs", nargs="+")
    args = parser.parse_args(argv)
    secrets = {}
    for state, directory, files in ((top, d, f) for top in args.secrets for d, _dirs, f in os.walk(top)):
        for name in files:
            if name.endswith(PUBLIC_SUFFIXES) or name in PUBLIC_NAMES:
                continue
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            for secret in secrets_of(path):
                secrets.setdefault(secret, os.path.relpath(path, state))
    logs = args.logs
    found = []
    for log in logs:
        with open(log, "rb") as stream:
            content = stream.read().decode("utf-8", "replace")
        found.extend(
            {"file": file, "log": os.path.basename(log)} for secret, file in secrets.items() if secret in content
        )
    files = sorted(set(secrets.values()))
    print(json.dumps({"secrets": len(secrets), "files": files, "logs": len(logs), "found": found}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
