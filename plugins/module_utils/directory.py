# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared code of the LDAP modules: connection options, a small directory client, password hashes.

The modules run on the host of the LDAP server (or any host with python-ldap) and by default
talk to slapd over its local socket (``ldapi:///``) with SASL EXTERNAL, as root: no
administrator password travels.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import secrets
import string
import subprocess
import warnings

try:
    import ldap
    import ldap.modlist
    import ldap.sasl
except ImportError:
    ldap = None

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt
except ImportError:
    _crypt = None

LDAP_ARGUMENT_SPEC = dict(
    server_uri=dict(type="str", default="ldapi:///"),
    bind_dn=dict(type="str"),
    bind_pw=dict(type="str", no_log=True),
    start_tls=dict(type="bool", default=False),
    ca_path=dict(type="path"),
)

EPOCH = datetime.date(1970, 1, 1)
_SALT_CHARS = string.ascii_letters + string.digits + "./"
_SHA512_CRYPT = re.compile(r"^\$6\$(rounds=\d+\$)?([./A-Za-z0-9]{1,16})\$[./A-Za-z0-9]{86}$")


class DirectoryError(Exception):
    """A failure of the directory, with a message fit for one line."""


def ldap_error_text(exc):
    """One line from a python-ldap exception (its args are a dict with desc and info)."""
    if exc.args and isinstance(exc.args[0], dict):
        info = exc.args[0]
        text = info.get("desc", type(exc).__name__)
        if info.get("info"):
            text += ": " + str(info["info"])
        return text
    return str(exc) or type(exc).__name__


def days_since_epoch(date_text):
    """``YYYY-MM-DD`` as days since 1970-01-01, the unit of shadowExpire."""
    return (datetime.date.fromisoformat(date_text) - EPOCH).days


def sha512_crypt(password, salt=None):
    """The ``{CRYPT}$6$...`` value of ``password``, as glibc's crypt(3) and slapd verify it."""
    if salt is None:
        salt = "".join(secrets.choice(_SALT_CHARS) for _unused in range(16))
    if _crypt is not None:
        hashed = _crypt.crypt(password, "$6$" + salt)
    else:
        # Python 3.13 has no crypt module; openssl makes the same hash (5000 rounds, as crypt).
        hashed = subprocess.run(
            ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
            input=password,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return "{CRYPT}" + hashed


def password_matches(stored, password):
    """Whether ``stored`` (a ``{CRYPT}$6$`` value) is the hash of ``password``; False for other schemes."""
    if not stored.startswith("{CRYPT}"):
        return False
    match = _SHA512_CRYPT.fullmatch(stored[len("{CRYPT}") :])
    if not match or match.group(1):
        return False
    return secrets.compare_digest(sha512_crypt(password, match.group(2)), stored)


def _text(values):
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]


def _bytes(values):
    return [value if isinstance(value, bytes) else str(value).encode("utf-8") for value in values]


class Directory:
    """The few operations the modules need, on one connection; values are lists of str."""

    def __init__(self, server_uri="ldapi:///", bind_dn=None, bind_pw=None, start_tls=False, ca_path=None):
        if ldap is None:
            raise DirectoryError("python-ldap is missing on the host (Debian: python3-ldap)")
        try:
            if ca_path:
                ldap.set_option(ldap.OPT_X_TLS_CACERTFILE, ca_path)
                ldap.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            self._conn = ldap.initialize(server_uri)
            self._conn.protocol_version = 3
            self._conn.set_option(ldap.OPT_REFERRALS, 0)
            if start_tls:
                self._conn.start_tls_s()
            if bind_dn:
                self._conn.simple_bind_s(bind_dn, bind_pw or "")
            else:
                self._conn.sasl_interactive_bind_s("", ldap.sasl.external())
        except ldap.LDAPError as exc:
            raise DirectoryError(f"cannot bind to {server_uri}: {ldap_error_text(exc)}") from exc

    def _call(self, what, func, *args):
        try:
            return func(*args)
        except ldap.LDAPError as exc:
            raise DirectoryError(f"{what}: {ldap_error_text(exc)}") from exc

    def search(self, base, scope="one", filterstr="(objectClass=*)", attrs=None):
        """Entries below ``base`` as {dn: {attribute: [str]}}; an absent base gives {}."""
        scopes = {"base": ldap.SCOPE_BASE, "one": ldap.SCOPE_ONELEVEL, "sub": ldap.SCOPE_SUBTREE}
        try:
            found = self._conn.search_s(base, scopes[scope], filterstr, attrs)
        except ldap.NO_SUCH_OBJECT:
            return {}
        except ldap.LDAPError as exc:
            raise DirectoryError(f"search {base}: {ldap_error_text(exc)}") from exc
        return {dn: {key: _text(values) for key, values in entry.items()} for dn, entry in found if dn}

    def exists(self, dn):
        return bool(self.search(dn, scope="base", attrs=["1.1"]))

    def add(self, dn, attrs):
        entry = {key: _bytes(values) for key, values in attrs.items() if values}
        self._call(f"add {dn}", self._conn.add_s, dn, ldap.modlist.addModlist(entry))

    def replace(self, dn, attrs):
        """Replace the given attributes of ``dn``; an empty list removes the attribute."""
        changes = [(ldap.MOD_REPLACE, key, _bytes(values) or None) for key, values in attrs.items()]
        self._call(f"modify {dn}", self._conn.modify_s, dn, changes)

    def add_values(self, dn, attr, values):
        self._call(f"modify {dn}", self._conn.modify_s, dn, [(ldap.MOD_ADD, attr, _bytes(values))])

    def delete_values(self, dn, attr, values):
        self._call(f"modify {dn}", self._conn.modify_s, dn, [(ldap.MOD_DELETE, attr, _bytes(values))])

    def delete(self, dn):
        self._call(f"delete {dn}", self._conn.delete_s, dn)

    def close(self):
        with contextlib.suppress(ldap.LDAPError):
            self._conn.unbind_s()


def connect(params):
    """A Directory from the modules' shared options."""
    return Directory(
        server_uri=params["server_uri"],
        bind_dn=params["bind_dn"],
        bind_pw=params["bind_pw"],
        start_tls=params["start_tls"],
        ca_path=params["ca_path"],
    )
