"""Writes one file of an npm package's tarball, once the tarball matches its integrity.

    python scripts/fetch_npm_file.py TARBALL_URL INTEGRITY MEMBER DEST

INTEGRITY is the registry's `dist.integrity` for that version (`sha512-<base64>`), written
down where the version is pinned, so a tarball changed since is refused rather than run.
DEST appears whole or not at all: make takes an existing file as done.
"""

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request


def main(url, integrity, member, dest):
    algorithm, _, expected = integrity.partition("-")
    with urllib.request.urlopen(url, timeout=60) as response:
        tarball = response.read()
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        sys.exit(f"{url}: {algorithm} is {actual}, not the pinned {expected}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        content = archive.extractfile(member).read()
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + ".part", "wb") as out:
        out.write(content)
    os.replace(dest + ".part", dest)


if __name__ == "__main__":
    main(*sys.argv[1:])
