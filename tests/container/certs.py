#!/usr/bin/env python3
"""Signed tokens for the container tests, so that a document can be uploaded
through the real API of a container (auth + storage) and checked after
`docker restart` and re-creation.

  certs.py serve DIR     makes an RSA key and certificate in DIR (once),
                         serves Google's x509 map of it on 127.0.0.1 (a free
                         port, written to DIR/port) until killed
  certs.py token DIR UID prints an RS256 ID token for project p1 signed with
                         DIR's key (kid k1)

The container runs with --network host, FIREBASE_PROJECT_ID=p1 and
LEXIAID_AUTH_CERTS_URL=http://127.0.0.1:$(cat DIR/port)/certs. The keys and
tokens are those of the integration tests (tests/integration/lxkeys.py).
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lxkeys  # noqa: E402


def load(directory):
    key = os.path.join(directory, "k1.pem")
    cert = os.path.join(directory, "k1.crt")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
    lxkeys.KEYS["k1"] = key
    with open(cert) as f:
        lxkeys.CERTS["k1"] = f.read()


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        load(argv[2])
        fake = lxkeys.Fake()
        fake.certs("/certs", "k1")
        with open(os.path.join(argv[2], "port.tmp"), "w") as f:
            f.write(str(fake.port))
        os.rename(os.path.join(argv[2], "port.tmp"), os.path.join(argv[2], "port"))
        while True:
            time.sleep(3600)
    if len(argv) == 4 and argv[1] == "token":
        load(argv[2])
        print(lxkeys.token("k1", payload=lxkeys.claims(sub=argv[3], email=argv[3] + "@example.com")))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
