"""The CernVM-FS stand-in of molecule/cvmfs refuses what the real client refuses.

Each test writes a client configuration in a temporary /etc/cvmfs, as the roles or a careless
site would, and checks the stand-in's reading, its refusals and chksetup's errors against what
CernVM-FS 2.12 does (cvmfs/options.cc, mount/mount.cvmfs.cc, cvmfs/cvmfs_config). The root
catalogue is fetched from a real HTTP server on 127.0.0.1 serving a manifest signed with a key
made here. The mount itself (a tmpfs) needs root and is left to the molecule scenario.
"""

import functools
import hashlib
import importlib.util
import io
import subprocess
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parents[3] / "molecule" / "cvmfs" / "files" / "cvmfs_standin.py"
SPEC = importlib.util.spec_from_file_location("cvmfs_standin", PROGRAM)
standin = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(standin)

FQRN = "software.eessi.io"
# The package's defaults that matter here, the user and mount directory read-only as there.
DEFAULT_CONF = """CVMFS_CACHE_BASE=/var/lib/cvmfs
CVMFS_QUOTA_LIMIT=4000
CVMFS_TIMEOUT=5
CVMFS_TIMEOUT_DIRECT=10
CVMFS_STRICT_MOUNT=no
CVMFS_NFILES=131072
CVMFS_SHARED_CACHE=yes
CVMFS_CHECK_PERMISSIONS=yes
CVMFS_KEYS_DIR=/etc/cvmfs/keys
if [ "x$CVMFS_BASE_ENV" = "x" ]; then
  readonly CVMFS_USER=root
  readonly CVMFS_MOUNT_DIR=/tmp
  readonly CVMFS_RELOAD_SOCKETS=/var/run/cvmfs
  readonly CVMFS_BASE_ENV=1
fi
"""
# What learnhpc.cluster.eessi writes for the domain (servers chosen by the proxy setting).
DOMAIN_CONF = """CVMFS_KEYS_DIR="{keys}"
case "${{CVMFS_HTTP_PROXY:-DIRECT}}" in
  DIRECT|direct|"auto;DIRECT")
    CVMFS_SERVER_URL="{server}/cvmfs/@fqrn@"
    ;;
  *)
    CVMFS_SERVER_URL="http://stratum1.invalid/cvmfs/@fqrn@"
    ;;
esac
"""


def openssl(*arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


@pytest.fixture(scope="module")
def stratum(tmp_path_factory):
    """A stand-in stratum on 127.0.0.1: (base URL, the signing key's public half)."""
    root = tmp_path_factory.mktemp("stratum")
    key = root / "repository.key"
    openssl("genrsa", "-out", str(key), "2048")
    openssl("rsa", "-in", str(key), "-pubout", "-out", str(root / "repository.pub"))
    repository = root / "cvmfs" / FQRN
    repository.mkdir(parents=True)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        content = b"hello\n"
        info = tarfile.TarInfo("versions/2023.06/README")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    (repository / "data.tar").write_bytes(data.getvalue())
    manifest = f"N{FQRN}\nX{hashlib.sha256(data.getvalue()).hexdigest()}\n"
    (repository / ".cvmfspublished").write_text(manifest)
    openssl(
        "dgst", "-sha256", "-sign", str(key), "-out", str(repository / ".cvmfspublished.sig"),
        str(repository / ".cvmfspublished"),
    )  # fmt: skip
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root / "repository.pub"
    server.shutdown()


@pytest.fixture
def etc(tmp_path, monkeypatch, stratum):
    """A client configuration as the roles write it (proxy DIRECT, site key trusted)."""
    server, public_key = stratum
    etc = tmp_path / "cvmfs"
    keys = etc / "keys" / "eessi.io"
    keys.mkdir(parents=True)
    (keys / "site-0123456789abcdef.pub").write_bytes(public_key.read_bytes())
    (etc / "default.d").mkdir()
    (etc / "domain.d").mkdir()
    (etc / "default.conf").write_text(DEFAULT_CONF)
    (etc / "default.d" / "50-cern-debian.conf").write_text(
        "CVMFS_CONFIG_REPOSITORY=cvmfs-config.cern.ch\nCVMFS_DEFAULT_DOMAIN=cern.ch\n"
    )
    (etc / "default.d" / "90-learnhpc-config-repository.conf").write_text("CVMFS_CONFIG_REPOSITORY=\n")
    (etc / "default.local").write_text(
        'CVMFS_CLIENT_PROFILE="single"\nCVMFS_HTTP_PROXY="DIRECT"\nCVMFS_REPOSITORIES="software.eessi.io"\n'
    )
    (etc / "domain.d" / "eessi.io.conf").write_text(DOMAIN_CONF.format(keys=keys, server=server))
    monkeypatch.setattr(standin, "ETC", str(etc))
    return etc


def test_reads_the_files_in_the_clients_order(etc, stratum):
    (etc / "domain.d" / "eessi.io.local").write_text(
        'CVMFS_SERVER_URL="http://mirror/cvmfs/@fqrn@;$CVMFS_SERVER_URL"\n'
    )
    config = standin.Configuration(FQRN)
    assert config.get("CVMFS_SERVER_URL") == f"http://mirror/cvmfs/{FQRN};{stratum[0]}/cvmfs/{FQRN}"
    assert config.get("CVMFS_CONFIG_REPOSITORY") == ""
    assert config.sources["CVMFS_CONFIG_REPOSITORY"].endswith("default.d/90-learnhpc-config-repository.conf")
    assert config.get("CVMFS_USER") == "root"
    assert config.problems == []


def test_mounts_what_a_trusted_key_signed(etc, stratum):
    config = standin.check_for_mount(FQRN)
    data, server, proxy, key = standin.load_root_catalog(config)
    assert (server, proxy) == (f"{stratum[0]}/cvmfs/{FQRN}", "DIRECT")
    assert key.endswith("site-0123456789abcdef.pub")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == ["versions/2023.06/README"]


def test_the_profile_single_alone_is_no_proxy(etc):
    # What the cvmfs role wrote before: the client profile, and no CVMFS_HTTP_PROXY.
    (etc / "default.local").write_text('CVMFS_CLIENT_PROFILE="single"\n')
    with pytest.raises(standin.Refused, match=r"^CVMFS_HTTP_PROXY required$"):
        standin.check_for_mount(FQRN)


def test_the_configuration_repository_cannot_change_in_default_local(etc, capsys):
    # What the cvmfs role wrote before: the opt-out in default.local, and no default.d file.
    (etc / "default.d" / "90-learnhpc-config-repository.conf").unlink()
    with (etc / "default.local").open("a") as stream:
        stream.write('CVMFS_CONFIG_REPOSITORY=""\n')
    with pytest.raises(standin.Refused, match="attempt to change protected CVMFS_CONFIG_REPOSITORY from cvmfs-config"):
        standin.check_for_mount(FQRN)
    # showconfig, like the real client, keeps the protected value.
    assert standin.Configuration(FQRN).get("CVMFS_CONFIG_REPOSITORY") == "cvmfs-config.cern.ch"
    assert standin.chksetup([]) >= 1
    assert (
        "Error: CVMFS_CONFIG_REPOSITORY can only be set in /etc/cvmfs/default.conf and /etc/cvmfs/default.d/*.conf"
        f" (not in {etc}/default.local)" in capsys.readouterr().out.splitlines()
    )


def test_no_servers_before_the_domain_is_configured(etc):
    # The cvmfs role before eessi on a fresh host: no domain configuration yet.
    (etc / "domain.d" / "eessi.io.conf").unlink()
    config = standin.check_for_mount(FQRN)
    with pytest.raises(standin.Refused, match=r"^Failed to initialize root file catalog .*: no CVMFS_SERVER_URL"):
        standin.load_root_catalog(config)


def test_an_untrusted_signature_is_refused(etc, tmp_path):
    # Only EESSI's own key (here: another key) without the site's.
    keys = etc / "keys" / "eessi.io"
    (keys / "site-0123456789abcdef.pub").unlink()
    openssl("genrsa", "-out", str(tmp_path / "other.key"), "2048")
    openssl("rsa", "-in", str(tmp_path / "other.key"), "-pubout", "-out", str(keys / "eessi.io.pub"))
    config = standin.check_for_mount(FQRN)
    with pytest.raises(standin.Refused, match=r"signature verification failed for software\.eessi\.io"):
        standin.load_root_catalog(config)


def test_strict_mount_needs_the_repository_listed(etc):
    (etc / "default.local").write_text(
        "CVMFS_HTTP_PROXY=DIRECT\nCVMFS_STRICT_MOUNT=yes\nCVMFS_REPOSITORIES=other.eessi.io\n"
    )
    with pytest.raises(standin.Refused, match=r"Not allowed to mount software\.eessi\.io, add it to CVMFS_REPO"):
        standin.check_for_mount(FQRN)


def test_chksetup_names_missing_parameters_and_keys(etc, capsys):
    (etc / "domain.d" / "eessi.io.conf").write_text(f'CVMFS_KEYS_DIR="{etc}/nokeys"\n')
    assert standin.chksetup([]) >= 2
    out = capsys.readouterr().out.splitlines()
    assert f"Error: required parameter CVMFS_SERVER_URL undefined for {FQRN}" in out
    assert f"Error: public key location {etc}/nokeys is not a directory" in out


def test_assignments_are_found_as_the_client_finds_them():
    assert standin.assigned_parameter("readonly CVMFS_USER=cvmfs") == "CVMFS_USER"
    assert standin.assigned_parameter('  export CVMFS_HTTP_PROXY="a;b"  # note') == "CVMFS_HTTP_PROXY"
    assert standin.assigned_parameter('case "$X" in') is None
    assert standin.assigned_parameter("# CVMFS_QUOTA_LIMIT=1") is None
