# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's LDAP modules reach the directory."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  server_uri:
    description:
      - The LDAP server to talk to.
      - The default, the local socket of slapd, works on the LDAP server's host when the module runs as root there;
        it binds with SASL EXTERNAL and needs no password.
    type: str
    default: ldapi:///
  bind_dn:
    description:
      - The DN to bind as with a simple bind.
      - When not set, the module binds with SASL EXTERNAL (the local root user over O(server_uri=ldapi:///)).
    type: str
  bind_pw:
    description:
      - The password of O(bind_dn).
    type: str
  start_tls:
    description:
      - Whether to use StartTLS on an C(ldap://) O(server_uri).
    type: bool
    default: false
  ca_path:
    description:
      - The CA certificate (PEM file) to check the server's certificate with, for StartTLS and C(ldaps://).
    type: path
requirements:
  - python-ldap on the host the module runs on (Debian package C(python3-ldap))
"""
