# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's job gateway modules reach Slurm's REST API."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description:
      - The job gateway, the HTTPS front of slurmrestd on the login node (role C(learnhpc.cluster.slurm_rest)), e.g.
        V(https://login.example.org:6820).
      - When not given, the environment variable E(SLURM_REST_URL).
    type: str
    required: true
  token:
    description:
      - The user's JSON Web Token, what follows C(SLURM_JWT=) in the output of C(scontrol token) on the login node.
      - When not given, the environment variable E(SLURM_JWT) (C(export $(scontrol token)) sets it).
      - A token that is not three base64url parts separated by C(.) fails with one line before any request.
    type: str
    required: true
  user:
    description:
      - The user the requests are made as (the header C(X-SLURM-USER-NAME)).
      - When not given, the user the token was made for (its claim C(sun)).
      - slurmctld refuses a token made for another user, unless it is one of SlurmUser or root.
    type: str
  ca_path:
    description:
      - The CA certificate (PEM file) to check the gateway's certificate with, e.g. the event's
        C(events/.state/<event>/pki/ca.crt). When not given, the system's trust store.
    type: path
  validate_certs:
    description:
      - Whether to check the gateway's certificate. Only for tests.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for an answer to each request.
    type: int
    default: 30
notes:
  - The modules talk to Slurm's REST API, version C(v0.0.38) (slurmrestd 22.05, Debian 12).
  - Both are in the action group C(learnhpc.cluster.slurm_rest), so that C(module_defaults) for
    C(group/learnhpc.cluster.slurm_rest) can set O(url) and O(ca_path) once.
"""
