# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The connection and wait options shared by the OpenStack modules of learnhpc.cluster."""

    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The name of a cloud in C(clouds.yaml), or a dict with the settings of a cloud (C(auth), C(region_name),
        ...), as openstacksdk reads them.
      - When not given, openstacksdk reads C(OS_CLOUD) or the C(OS_*) environment variables.
      - An unknown name fails with one line listing the clouds of C(clouds.yaml).
      - With a dict, give O(auth), O(auth_type), O(region_name), O(validate_certs) and O(ca_cert) inside it.
    type: raw
  auth:
    description:
      - The authentication settings (C(auth_url), C(username), C(password), C(project_name), ...), as in the
        C(auth) section of C(clouds.yaml). They are merged over those of O(cloud).
      - Never printed.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin, for example V(password), V(v3applicationcredential) or V(token).
    type: str
  region_name:
    description:
      - The region of the cloud.
    type: str
  interface:
    description:
      - Which endpoints of the service catalog to use.
    type: str
    default: public
    choices: [public, internal, admin]
  validate_certs:
    description:
      - Whether to check the TLS certificates of the cloud's endpoints.
      - Defaults to the C(verify) setting of the cloud, else V(true).
    type: bool
  ca_cert:
    description:
      - A file of CA certificates to check the cloud's certificates against.
    type: path
  client_cert:
    description:
      - A client certificate file for the cloud's endpoints.
    type: path
  client_key:
    description:
      - The key file of O(client_cert).
    type: path
  api_timeout:
    description:
      - Seconds to wait for one answer of the cloud's API; a request that takes longer fails (and is retried, see
        the notes), so that a stalled API does not hang the module.
      - Overrides C(api_timeout) of C(clouds.yaml).
    type: int
    default: 60
  wait:
    description:
      - Whether to wait until the resources are ready (or gone).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait in all for the resources to be ready (or gone) when O(wait=true).
    type: int
    default: 600
requirements:
  - openstacksdk >= 4.0
notes:
  - Transient failures of the cloud's API - a connection refused or timed out, the answers 502, 503 and 504 -
    are retried three times, after 2, 4 and 8 seconds. A request that creates something (a network, a server,
    a floating IP, ...) is retried only after 502 or 503, which say that it was not carried out; after a
    timeout it may have been, and a second request would make a second resource.
  - Every openstacksdk or keystoneauth error ends the module with one line that names the cloud; passwords and
    other secrets of the cloud's C(auth) settings are never shown.
  - All modules of this group can be given defaults with C(module_defaults) and the group
    C(group/learnhpc.cluster.openstack).
"""
