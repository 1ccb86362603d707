"""An attendee's JupyterHub cookie and API token, before and after their account expires.

    jupyterhub_expiry.py login --url URL --user NAME --password-file FILE --ca CA --keep FILE
        logs in with the password (the hub's login form), makes an API token with the
        cookie, checks that both work, and keeps both in FILE (mode 0600)
    jupyterhub_expiry.py check --url URL --user NAME --password-file FILE --ca CA --keep FILE --wait SECONDS
        after the account has expired: waits until the cookie and the token are both refused,
        then tries the password once more

Each prints one JSON object. TLS is verified against the event's CA only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests


def session_for(args):
    session = requests.Session()
    session.verify = args.ca
    # Else REQUESTS_CA_BUNDLE, when set, wins over session.verify (requests' own rule).
    session.trust_env = False
    return session


def login(session, url, user, password):
    """Log in through the form; whether the hub set its login cookie."""
    session.get(f"{url}hub/login", timeout=30).raise_for_status()
    form = {"username": user, "password": password, "_xsrf": session.cookies.get("_xsrf", "")}
    session.post(f"{url}hub/login", data=form, timeout=60, allow_redirects=False)
    return any(cookie.name.startswith("jupyterhub-hub-login") for cookie in session.cookies)


def cookie_status(session, url):
    """The status of the hub's home page with the cookie, not following a redirect to the login page."""
    return session.get(f"{url}hub/home", timeout=30, allow_redirects=False).status_code


def token_status(url, ca, token):
    headers = {"Authorization": f"token {token}"}
    return requests.get(f"{url}hub/api/user", headers=headers, verify=ca, timeout=30).status_code


def do_login(args, password):
    session = session_for(args)
    if not login(session, args.url, args.user, password):
        return {"error": "the hub did not log the user in"}
    reply = session.post(
        f"{args.url}hub/api/users/{args.user}/tokens",
        json={"note": "ci expiry test", "expires_in": 3600},
        headers={"X-XSRFToken": session.cookies.get("_xsrf", "")},
        timeout=30,
    )
    if reply.status_code != 201:
        return {"error": f"token request answered {reply.status_code}: {reply.text[:200]}"}
    token = reply.json()["token"]
    keep = {"cookies": requests.utils.dict_from_cookiejar(session.cookies), "token": token}
    descriptor = os.open(args.keep, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(keep, stream)
    return {"cookie": cookie_status(session, args.url), "token": token_status(args.url, args.ca, token)}


def do_check(args, password):
    with open(args.keep, encoding="utf-8") as stream:
        kept = json.load(stream)
    session = session_for(args)
    session.cookies = requests.utils.cookiejar_from_dict(kept["cookies"])
    started = time.monotonic()
    while True:
        cookie, token = cookie_status(session, args.url), token_status(args.url, args.ca, kept["token"])
        if (cookie != 200 and token != 200) or time.monotonic() - started > args.wait:
            break
        time.sleep(5)
    seconds = round(time.monotonic() - started)
    again = login(session_for(args), args.url, args.user, password)
    return {"seconds": seconds, "cookie": cookie, "token": token, "login_again": again}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["login", "check"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--keep", required=True)
    parser.add_argument("--wait", type=int, default=150)
    args = parser.parse_args()
    with open(args.password_file, encoding="utf-8") as stream:
        password = stream.read().strip()
    try:
        result = do_login(args, password) if args.step == "login" else do_check(args, password)
    except (requests.RequestException, OSError, ValueError, KeyError) as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
