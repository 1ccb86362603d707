#!/usr/bin/python
# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Ansible's convention puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

DOCUMENTATION = r"""
---
module: ldap_password
short_description: Make a password attribute in LDAP hold the hash of a given password
version_added: 0.1.0
author: learnhpc.cluster developers (!UNKNOWN)
description:
  - Reads the password attribute O(attribute) of the entry O(dn) and, unless it is already a hash of O(password),
    replaces it with a salted SHA-512 crypt hash (C({CRYPT}$6$...)) of O(password).
  - Idempotent although every hash has a fresh salt - the stored hash is checked against the password, not compared
    with a new hash.
  - Works for C(userPassword) of an entry and for C(olcRootPW) of a database in C(cn=config) (bound over
    C(ldapi:///) as root).
options:
  dn:
    description:
      - The entry whose password to set. It must exist.
    type: str
    required: true
  attribute:
    description:
      - The attribute that holds the password.
    type: str
    default: userPassword
  password:
    description:
      - The password.
    type: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - learnhpc.cluster.ldap
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - A value stored in another scheme (C({SSHA}), clear text) cannot be checked and is replaced.
"""

EXAMPLES = r"""
- name: Set the password of the directory's administrator
  learnhpc.cluster.ldap_password:
    dn: olcDatabase={1}mdb,cn=config
    attribute: olcRootPW
    password: "{{ ldap_admin_password }}"
  no_log: true
"""

RETURN = r"""
dn:
  description: The entry.
  returned: always
  type: str
  sample: cn=reader,ou=services,dc=demo,dc=learnhpc
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.learnhpc.cluster.plugins.module_utils.directory import (
    LDAP_ARGUMENT_SPEC,
    DirectoryError,
    connect,
    password_matches,
    sha512_crypt,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            LDAP_ARGUMENT_SPEC,
            dn=dict(type="str", required=True),
            attribute=dict(type="str", default="userPassword"),
            password=dict(type="str", required=True, no_log=True),
        ),
        supports_check_mode=True,
    )
    dn, attribute, password = module.params["dn"], module.params["attribute"], module.params["password"]
    if not password:
        module.fail_json(msg="password must not be empty")
    try:
        directory = connect(module.params)
        try:
            found = directory.search(dn, "base", "(objectClass=*)", [attribute])
            if not found:
                module.fail_json(msg=f"no entry {dn}")
            current = next(iter(found.values())).get(attribute, [])
            changed = not any(password_matches(value, password) for value in current)
            if changed and not module.check_mode:
                directory.replace(dn, {attribute: [sha512_crypt(password)]})
        finally:
            directory.close()
    except DirectoryError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, dn=dn)


if __name__ == "__main__":
    main()
