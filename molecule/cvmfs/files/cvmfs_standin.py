# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""STAND-IN for the CernVM-FS client's mount helper and cvmfs_config (molecule/cvmfs).

No CernVM-FS client can be installed on the test machine (no package is reachable, and the
containers have no /dev/fuse). This program takes the client's place in the stand-in
package that molecule/cvmfs/prepare.yml builds: /sbin/mount.cvmfs runs `mount`, and
/usr/bin/cvmfs_config runs `showconfig`, `chksetup`, `reload` and `probe`.

It is meant to be as strict as the real client where the roles can go wrong. The rules
below follow CernVM-FS 2.12's source (cvmfs/options.cc, mount/mount.cvmfs.cc,
cvmfs/mountpoint.cc, cvmfs/cvmfs_config) and its documentation; the code is ours.

Reading the configuration (OptionsManager::ParseDefault):
  - the files are read in this order: default.conf, default.d/*.conf (sorted), then the
    configuration repository's default.conf, default.local, domain.d/DOMAIN.conf,
    domain.d/DOMAIN.local, config.d/FQRN.conf, config.d/FQRN.local;
  - each file is run by /bin/sh with the values read so far in its environment; a setting
    is what the file assigns (a line NAME=..., after `readonly`, `export` or `eval`),
    taken as the shell sees it after the whole file ran;
  - CVMFS_CONFIG_REPOSITORY is protected once default.d has been read: the real client
    ignores a later change and logs "attempt to change protected ...";
  - @fqrn@ and @org@ in values are replaced by the repository's names.

Mounting (mount.cvmfs, cvmfs2's loader):
  - a repository name of letters, digits, '-', '_' and '.';
  - with CVMFS_STRICT_MOUNT on, only repositories of CVMFS_REPOSITORIES;
  - "CVMFS_HTTP_PROXY required" when it is unset or empty: CVMFS_CLIENT_PROFILE=single
    alone is not a proxy (only the configuration repository's scripts resolve it);
  - the root catalogue needs CVMFS_SERVER_URL and public keys (CVMFS_PUBLIC_KEY, or the
    *.pub files of CVMFS_KEYS_DIR); the manifest (.cvmfspublished) is fetched from the
    servers in order, through the proxies in order (DIRECT: no proxy), and its signature
    must verify with one of those keys, else "Failed to initialize root file catalog".

Stricter than the real client, where the real one only logs: a protected setting changed
in a later file stops the mount. A configuration repository that is set but not mounted is
reported on stderr and skipped, as the real client does (CVMFS_CONFIG_REPO_REQUIRED: refused).

chksetup (cvmfs_config's rules): CVMFS_CONFIG_REPOSITORY set in default.local, domain.d or
config.d is an error; the autofs master map and /etc/auto.cvmfs; the cvmfs user; and for
each repository of CVMFS_REPOSITORIES its required parameters, switches, keys and mount
directory. It prints Warning:/Error: lines, or OK, and exits with the number of errors.

Not done by the stand-in: FUSE (the repository is a read-only tmpfs holding the files the
stratum serves as one tar archive, not content-addressed objects), the Geo API ordering of
servers, WPAD (`auto` proxies are skipped), the cache and its quota, cvmfs2's binaries and
libraries in chksetup, chksetup's network check.

The stand-in's repository format (made by prepare.yml, on the stand-in stratum):
  <server>/.cvmfspublished      lines "N<fqrn>" and "X<sha256 of data.tar>"
  <server>/.cvmfspublished.sig  an RSA SHA-256 signature of it (openssl dgst)
  <server>/data.tar             the repository's files
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request

ETC = "/etc/cvmfs"
LOG = "/var/log/cvmfs-standin.log"
PROTECTED = ("CVMFS_CONFIG_REPOSITORY",)
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,60}")
# cvmfs_config's lists: parameters chksetup requires, and switches it checks.
REQUIRED = [
    "CVMFS_USER",
    "CVMFS_NFILES",
    "CVMFS_MOUNT_DIR",
    "CVMFS_STRICT_MOUNT",
    "CVMFS_RELOAD_SOCKETS",
    "CVMFS_QUOTA_LIMIT",
    "CVMFS_CACHE_BASE",
    "CVMFS_SERVER_URL",
    "CVMFS_HTTP_PROXY",
    "CVMFS_TIMEOUT",
    "CVMFS_TIMEOUT_DIRECT",
    "CVMFS_SHARED_CACHE",
    "CVMFS_CHECK_PERMISSIONS",
]
SWITCHES = [
    "CVMFS_IGNORE_SIGNATURE",
    "CVMFS_STRICT_MOUNT",
    "CVMFS_SHARED_CACHE",
    "CVMFS_NFS_SOURCE",
    "CVMFS_NFS_SHARED",
    "CVMFS_CHECK_PERMISSIONS",
    "CVMFS_AUTO_UPDATE",
    "CVMFS_MOUNT_RW",
    "CVMFS_SEND_INFO_HEADER",
    "CVMFS_USE_GEOAPI",
    "CVMFS_CLAIM_OWNERSHIP",
    "CVMFS_HIDE_MAGIC_XATTRS",
    "CVMFS_SYSTEMD_NOKILL",
    "CVMFS_SERVER_CACHE_MODE",
    "CVMFS_CONFIG_REPO_REQUIRED",
]
SWITCH_VALUES = {"yes", "YES", "no", "NO", "on", "ON", "off", "OFF", "1", "0"}


class Refused(Exception):
    """What the real client would refuse: its message, and the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def is_on(value):
    return (value or "").upper() in ("YES", "ON", "1", "TRUE")


def assigned_parameter(line):
    """The parameter a configuration line assigns, as options.cc finds it, or None."""
    line = line.split("#", 1)[0].strip()
    if "=" not in line:
        return None
    name = line.split("=", 1)[0].strip()
    for prefix in ("readonly ", "export ", "eval "):
        if name.startswith(prefix):
            name = name[len(prefix) :].strip()
            break
    if not name or " " in name:
        return None
    return name


class Configuration:
    """The settings of one repository (or the general ones, fqrn ''), read as the client does."""

    def __init__(self, fqrn="", etc=None, strict=False):
        self.fqrn = fqrn
        self.etc = etc or ETC
        self.strict = strict
        self.values = {}
        self.sources = {}
        self.problems = []
        self.protected = {}
        self._read()

    def _files(self):
        yield os.path.join(self.etc, "default.conf"), False
        for path in sorted(glob.glob(os.path.join(self.etc, "default.d", "*.conf"))):
            yield path, False
        yield None, False  # protect here
        config_repository = self.values.get("CVMFS_CONFIG_REPOSITORY", "")
        if self.fqrn and config_repository and config_repository != self.fqrn:
            mount_dir = self.values.get("CVMFS_MOUNT_DIR", "/cvmfs")
            yield os.path.join(mount_dir, config_repository, "etc/cvmfs/default.conf"), True
        yield os.path.join(self.etc, "default.local"), False
        if not self.fqrn:
            return
        domain = self.fqrn.split(".", 1)[1]
        for kind, name in (("domain.d", domain), ("config.d", self.fqrn)):
            if self.fqrn and config_repository and config_repository != self.fqrn:
                mount_dir = self.values.get("CVMFS_MOUNT_DIR", "/cvmfs")
                yield os.path.join(mount_dir, config_repository, "etc/cvmfs", kind, name + ".conf"), True
            yield os.path.join(self.etc, kind, name + ".conf"), False
            yield os.path.join(self.etc, kind, name + ".local"), False

    def _read(self):
        files = self._files()
        for path, external in files:
            if path is None:
                self.protected = {name: self.values.get(name, "") for name in PROTECTED}
                continue
            if not os.path.isfile(path):
                if external and not os.path.isdir(os.path.dirname(path)):
                    message = f"configuration repository directory does not exist: {os.path.dirname(path)}"
                    if is_on(self.values.get("CVMFS_CONFIG_REPO_REQUIRED")):
                        raise Refused("required " + message)
                    self.problems.append(message)
                continue
            self._read_file(path)

    def _read_file(self, path):
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        names = []
        for line in text.splitlines():
            name = assigned_parameter(line)
            if name and name not in names:
                names.append(name)
        if not names:
            return
        # The file runs in a shell that has the values read so far; then each assigned
        # parameter is echoed (one line each, as cvmfs reads them).
        script = f'cd "{os.path.dirname(path) or "/"}"\n{text}\n'
        script += "".join(f'printf "%s\\n" "${{{name}}}"\n' for name in names if re.fullmatch(r"\w+", name))
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.values}
        if self.fqrn:
            environment["CVMFS_FQRN"] = self.fqrn
        result = subprocess.run(["/bin/sh"], input=script, capture_output=True, text=True, env=environment, check=False)
        lines = result.stdout.split("\n")
        for name, value in zip([n for n in names if re.fullmatch(r"\w+", n)], lines, strict=False):
            if name in self.protected and value != self.protected[name]:
                message = (
                    f"error in cvmfs configuration: attempt to change protected {name} "
                    f"from {self.protected[name]} to {value} (in {path})"
                )
                self.problems.append(message)
                if self.strict:
                    raise Refused(message)
                continue
            self.values[name] = value
            self.sources[name] = path

    def get(self, name, default=""):
        value = self.values.get(name, default)
        if self.fqrn:
            value = value.replace("@fqrn@", self.fqrn).replace("@org@", self.fqrn.split(".", 1)[0])
        return value

    def dump(self, short=False):
        lines = [f"CVMFS_REPOSITORY_NAME={self.fqrn}"]
        for name in sorted(self.values):
            value = self.get(name)
            if short and not value:
                continue
            shown = value if re.fullmatch(r"[A-Za-z0-9/:._,-]*", value) else "'" + value.replace("'", "\\'") + "'"
            lines.append(f"{name}={shown}    # from {self.sources[name]}")
        return lines

    def public_keys(self):
        if self.get("CVMFS_PUBLIC_KEY"):
            return [key for key in self.get("CVMFS_PUBLIC_KEY").split(":") if key]
        keys_dir = self.get("CVMFS_KEYS_DIR") or os.path.join(self.etc, "keys")
        return sorted(glob.glob(os.path.join(keys_dir, "*.pub")))


def make_fqrn(repository, general):
    if "." in repository:
        return repository
    domain = general.get("CVMFS_DEFAULT_DOMAIN")
    if not domain:
        raise Refused("CVMFS_DEFAULT_DOMAIN missing")
    return f"{repository}.{domain}"


def split_list(value, separators):
    return [item.strip() for item in re.split(separators, value) if item.strip()]


def fetch(url, proxy, timeout):
    if proxy == "DIRECT":
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    else:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    with opener.open(url, timeout=timeout) as response:
        return response.read()


def verify_signature(manifest, signature, keys):
    """The key (path) whose signature the manifest carries, or None."""
    with tempfile.TemporaryDirectory() as work:
        manifest_path = os.path.join(work, "manifest")
        signature_path = os.path.join(work, "signature")
        with open(manifest_path, "wb") as stream:
            stream.write(manifest)
        with open(signature_path, "wb") as stream:
            stream.write(signature)
        for key in keys:
            result = subprocess.run(
                ["openssl", "dgst", "-sha256", "-verify", key, "-signature", signature_path, manifest_path],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                return key
    return None


def load_root_catalog(config):
    """The repository's files (a tar archive) and where they came from, as cvmfs2 would find them."""
    fqrn = config.fqrn
    servers = split_list(config.get("CVMFS_SERVER_URL"), "[;,]")
    keys = config.public_keys()
    failure = "Failed to initialize root file catalog (16 - file catalog failure)"
    if not servers:
        raise Refused(f"{failure}: no CVMFS_SERVER_URL for {fqrn}")
    if not keys:
        raise Refused(f"{failure}: no public key for {fqrn} (CVMFS_PUBLIC_KEY, or *.pub in CVMFS_KEYS_DIR)")
    proxies = split_list(config.get("CVMFS_HTTP_PROXY"), "[;|]")
    tried = []
    for server in servers:
        for proxy in proxies:
            if proxy == "auto":
                tried.append(f"{server} via auto: WPAD is not done by the stand-in")
                continue
            timeout = float(config.get("CVMFS_TIMEOUT_DIRECT" if proxy == "DIRECT" else "CVMFS_TIMEOUT") or 5)
            try:
                manifest = fetch(server + "/.cvmfspublished", proxy, timeout)
                signature = fetch(server + "/.cvmfspublished.sig", proxy, timeout)
            except (urllib.error.URLError, OSError, ValueError) as error:
                tried.append(f"{server} via {proxy}: {error}")
                continue
            fields = {line[:1]: line[1:] for line in manifest.decode("utf-8", "replace").splitlines() if line}
            if fields.get("N") != fqrn:
                raise Refused(f"{failure}: {server} serves {fields.get('N')!r}, not {fqrn}")
            key = verify_signature(manifest, signature, keys)
            if key is None:
                raise Refused(
                    f"{failure}: signature verification failed for {fqrn} from {server} with the keys {':'.join(keys)}"
                )
            data = fetch(server + "/data.tar", proxy, timeout)
            if hashlib.sha256(data).hexdigest() != fields.get("X"):
                raise Refused(f"{failure}: the data of {fqrn} from {server} do not match its signed manifest")
            return data, server, proxy, key
    raise Refused(f"{failure}: no server answered for {fqrn}: " + "; ".join(tried))


def is_mountpoint(path):
    return subprocess.run(["mountpoint", "-q", path], check=False).returncode == 0


def check_for_mount(repository):
    """The repository's settings, checked as mount.cvmfs and cvmfs2 check them before mounting."""
    if not REPOSITORY_NAME.fullmatch(repository):
        raise Refused(f"Invalid repository: {repository}")
    general = Configuration("", strict=True)
    fqrn = make_fqrn(repository, general)
    config = Configuration(fqrn, strict=True)
    for problem in config.problems:
        print(problem, file=sys.stderr)
    if is_on(config.get("CVMFS_STRICT_MOUNT")):
        allowed = [make_fqrn(name, general) for name in split_list(config.get("CVMFS_REPOSITORIES"), ",")]
        if fqrn not in allowed and fqrn != config.get("CVMFS_CONFIG_REPOSITORY"):
            raise Refused(f"Not allowed to mount {fqrn}, add it to CVMFS_REPOSITORIES")
    if not config.get("CVMFS_HTTP_PROXY"):
        raise Refused("CVMFS_HTTP_PROXY required")
    return config


def log(message):
    with open(LOG, "a", encoding="utf-8") as stream:
        stream.write(message + "\n")


def mount(arguments):
    options = []
    positional = []
    words = iter(arguments)
    for word in words:
        if word == "-o":
            options.extend(next(words, "").split(","))
        elif word.startswith("-o"):
            options.extend(word[2:].split(","))
        elif word in ("-f", "-n", "-v"):
            continue
        else:
            positional.append(word)
    if len(positional) != 2:
        raise Refused("usage: mount.cvmfs REPOSITORY MOUNTPOINT [-o OPTIONS]")
    repository, mountpoint = os.path.basename(positional[0]), positional[1]
    config = check_for_mount(repository)
    if is_mountpoint(mountpoint):
        if "remount" in options:
            return 0
        raise Refused(f"Repository {config.fqrn} is already mounted on {mountpoint}")
    data, server, proxy, key = load_root_catalog(config)
    subprocess.run(
        ["mount", "-i", "-t", "tmpfs", "-o", "size=16m,mode=0755,nodev,nosuid", "cvmfs2", mountpoint], check=True
    )
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            # Debian 12's Python has no extraction filters: only plain files and directories
            # with relative names that stay below the mount point.
            for member in archive.getmembers():
                name = os.path.normpath(member.name)
                if not (member.isfile() or member.isdir()) or name.startswith(("/", "..")):
                    raise Refused(f"the data of {config.fqrn} hold {member.name!r}: refused")
            archive.extractall(mountpoint)
        subprocess.run(["mount", "-i", "-t", "tmpfs", "-o", "remount,ro", "cvmfs2", mountpoint], check=True)
    except BaseException:
        subprocess.run(["umount", mountpoint], check=False)
        raise
    log(f"mounted {config.fqrn} on {mountpoint} from {server} via {proxy}, signed for {key}")
    print(f"CernVM-FS: mounted {config.fqrn} on {mountpoint} (stand-in, from {server} via {proxy})")
    return 0


def mounted_repositories():
    """(fqrn, mountpoint) of the repositories the stand-in has mounted."""
    found = []
    with open("/proc/self/mounts", encoding="utf-8") as stream:
        for line in stream:
            source, target = line.split()[:2]
            if source == "cvmfs2" and target.startswith("/cvmfs/"):
                found.append((target.rsplit("/", 1)[1], target))
    return found


def showconfig(arguments):
    short = "-s" in arguments
    names = [word for word in arguments if word != "-s"]
    general = Configuration("")
    if not names:
        names = split_list(general.get("CVMFS_REPOSITORIES"), ",")
    for name in names:
        config = Configuration(make_fqrn(name, general))
        for problem in config.problems:
            print(problem, file=sys.stderr)
        print("\n".join(config.dump(short)))
    return 0


def _late_files_problems():
    """CVMFS_CONFIG_REPOSITORY in a file read after default.d: an error of chksetup."""
    late = [os.path.join(ETC, "default.local")]
    for kind in ("domain.d", "config.d"):
        late += sorted(glob.glob(os.path.join(ETC, kind, "*.conf")) + glob.glob(os.path.join(ETC, kind, "*.local")))
    errors = []
    for path in late:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as stream:
            if any(line.startswith("CVMFS_CONFIG_REPOSITORY=") for line in stream):
                errors.append(
                    "CVMFS_CONFIG_REPOSITORY can only be set in /etc/cvmfs/default.conf and "
                    f"/etc/cvmfs/default.d/*.conf (not in {path})"
                )
    return errors


def _autofs_problems(general):
    """chksetup's checks of the autofs integration: (errors, warnings)."""
    errors, warnings = [], []
    candidates = ["/etc/auto.master.d/cvmfs.autofs", "/etc/autofs/auto.master.d/cvmfs.autofs", "/etc/auto.master"]
    master = next((path for path in candidates if os.path.isfile(path)), None)
    if master is None:
        errors.append("unable to find cvmfs.auto or auto.master in any of the supplied paths!")
    else:
        with open(master, encoding="utf-8") as stream:
            if not re.search(r"^/cvmfs\s+(program:)?/etc/auto\.cvmfs", stream.read(), re.MULTILINE):
                warnings.append(f"CernVM-FS map is not referenced from autofs maps ({master})")
    if not os.access("/etc/auto.cvmfs", os.X_OK):
        errors.append("/etc/auto.cvmfs is not executable")
    automount_running = subprocess.run(["pidof", "automount"], capture_output=True, check=False).returncode == 0
    if not automount_running and not is_on(general.get("CVMFS_NFS_SOURCE")):
        warnings.append("autofs service is not running")
    return errors, warnings


def _repository_problems(config, general):
    """chksetup's checks of one repository's settings: (errors, warnings)."""
    fqrn = config.fqrn
    errors, warnings = [], []
    for name in SWITCHES:
        value = config.get(name)
        if value and value not in SWITCH_VALUES:
            errors.append(f"invalid value for {name} (valid values: yes/no) for {fqrn}")
    if not config.get("CVMFS_KEYS_DIR") and not config.get("CVMFS_PUBLIC_KEY"):
        warnings.append(f"no public key (CVMFS_KEYS_DIR or CVMFS_PUBLIC_KEY) defined for {fqrn}")
    elif config.get("CVMFS_PUBLIC_KEY"):
        errors += [
            f"public key {key} for {fqrn} not accessible" for key in config.public_keys() if not os.path.isfile(key)
        ]
    elif not os.path.isdir(config.get("CVMFS_KEYS_DIR")):
        errors.append(f"public key location {config.get('CVMFS_KEYS_DIR')} is not a directory")
    elif not config.public_keys():
        errors.append(f"no public keys in {config.get('CVMFS_KEYS_DIR')}")
    errors += [f"required parameter {name} undefined for {fqrn}" for name in REQUIRED if not config.get(name)]
    mount_dir = config.get("CVMFS_MOUNT_DIR")
    if not mount_dir or not os.path.isdir(mount_dir) or mount_dir != general.get("CVMFS_MOUNT_DIR"):
        errors.append(f"invalid CVMFS_MOUNT_DIR for {fqrn}")
    return errors, warnings


def chksetup(_arguments):
    general = Configuration("")
    errors = _late_files_problems()
    more_errors, warnings = _autofs_problems(general)
    errors += more_errors
    user = general.get("CVMFS_USER")
    if subprocess.run(["id", user], capture_output=True, check=False).returncode != 0:
        errors.append(f"user {user} does not exist")
    for name in split_list(general.get("CVMFS_REPOSITORIES"), ","):
        more_errors, more_warnings = _repository_problems(Configuration(make_fqrn(name, general)), general)
        errors += more_errors
        warnings += more_warnings
    for line in warnings:
        print(f"Warning: {line}")
    for line in errors:
        print(f"Error: {line}")
    if not errors and not warnings:
        print("OK")
    return min(len(errors), 255)


def reload(_arguments):
    """cvmfs_config reload: every mounted repository takes its settings again; broken ones refuse."""
    for fqrn, _mountpoint in mounted_repositories():
        config = check_for_mount(fqrn)
        load_root_catalog(config)
        log(f"reloaded {fqrn}")
    return 0


def probe(arguments):
    general = Configuration("")
    names = arguments or split_list(general.get("CVMFS_REPOSITORIES"), ",")
    failed = 0
    mount_dir = general.get("CVMFS_MOUNT_DIR") or "/cvmfs"
    for name in names:
        fqrn = make_fqrn(name, general)
        ok = os.path.isdir(os.path.join(mount_dir, fqrn)) and bool(os.listdir(os.path.join(mount_dir, fqrn)))
        print(f"Probing {mount_dir}/{fqrn}... {'OK' if ok else 'Failed!'}")
        failed += not ok
    return failed


COMMANDS = {"mount": mount, "showconfig": showconfig, "chksetup": chksetup, "reload": reload, "probe": probe}


def main(argv):
    program = os.path.basename(argv[0]) if argv else ""
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(f"{program} (stand-in): one of {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 1
    try:
        return COMMANDS[argv[1]](argv[2:])
    except Refused as refusal:
        print(str(refusal), file=sys.stderr)
        return refusal.status
    except subprocess.CalledProcessError as error:
        print(f"{program} (stand-in): {' '.join(error.cmd)} failed ({error.returncode})", file=sys.stderr)
        return 32


if __name__ == "__main__":
    sys.exit(main(sys.argv))
