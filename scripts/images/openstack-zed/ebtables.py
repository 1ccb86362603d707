"""ebtables in front of ebtables-nft (run by /usr/local/sbin/ebtables in the test cloud).

iptables-nft 1.8.9 (Debian 12) cannot delete a rule with an ``--among-src`` match by its
specification: "RULE_DELETE failed (Invalid argument)". Neutron's linuxbridge agent does
exactly that for the MAC anti-spoofing chain of every port it sets up again, retries for
ever, and never finishes wiring the port. Such a delete is done here by the rule's number;
every other command goes to ebtables-nft unchanged.
"""

import os
import subprocess
import sys

REAL = "/usr/sbin/ebtables-nft"


def delete_by_number(args):
    rest = list(args)
    table = "filter"
    if "-t" in rest:
        i = rest.index("-t")
        table = rest[i + 1]
        del rest[i : i + 2]
    if "--concurrent" in rest:
        rest.remove("--concurrent")
    i = rest.index("-D")
    chain, want = rest[i + 1], " ".join(rest[i + 2 :])
    listing = subprocess.run(
        [REAL, "-t", table, "--concurrent", "-L", chain, "--Ln"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        number, _space, rule = line.strip().partition(" ")
        if number.isdigit() and rule.strip() == want:
            os.execv(REAL, [REAL, "-t", table, "--concurrent", "-D", chain, number])
    sys.stderr.write(f"ebtables: no rule '{want}' in chain {chain}\n")
    sys.exit(4)


if "-D" in sys.argv[1:] and "--among-src" in sys.argv[1:]:
    delete_by_number(sys.argv[1:])
os.execv(REAL, [REAL, *sys.argv[1:]])
