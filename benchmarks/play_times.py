# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a playbook run's time went, play by play: a table from a log written with the
callback ansible.posix.profile_tasks (benchmarks/deploy.sh keeps such logs with
LEARNHPC_BENCH_LOGS=DIR).

    .venv/bin/python benchmarks/play_times.py LOG

Each play's time runs from its first time stamp to the next play's; "task runs" counts the
hosts' results (ok, changed, skipped, failed) of its tasks, the module runs and skips that
the time was spent on.
"""

from __future__ import annotations

import re
import sys

STAMP = re.compile(r"(\d+):(\d\d):(\d\d\.\d+) \*+\s*$")
PLAY = re.compile(r"^PLAY \[(.*)\] \*+")
RESULT = re.compile(r"^(ok|changed|skipping|failed|fatal): \[")


def plays(lines):
    """[name, start seconds, task runs] of each play, in order."""
    found = []
    for line in lines:
        match = PLAY.match(line)
        if match:
            found.append([match.group(1), None, 0])
            continue
        if not found:
            continue
        stamp = STAMP.search(line)
        if stamp and found[-1][1] is None:
            hours, minutes, seconds = stamp.groups()
            found[-1][1] = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        elif RESULT.match(line):
            found[-1][2] += 1
    return found


def main(path):
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    found = [p for p in plays(lines) if p[1] is not None]
    stamps = [STAMP.search(line) for line in lines]
    last = [s for s in stamps if s][-1].groups()
    end = int(last[0]) * 3600 + int(last[1]) * 60 + float(last[2])
    print("| play | seconds | task runs |")
    print("|---|---:|---:|")
    for index, (name, start, runs) in enumerate(found):
        stop = found[index + 1][1] if index + 1 < len(found) else end
        print(f"| {name} | {stop - start:.1f} | {runs} |")
    print(f"| total | {end:.1f} | {sum(p[2] for p in found)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/play_times.py LOG (written with the callback ansible.posix.profile_tasks)")
    main(sys.argv[1])
