# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its venvs.

run.sh copies this file to ~/.ansible/test/cache/get_pip_<version>.py, where ansible-test
looks before downloading. ansible-test runs it as
``python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel``:
it puts the pip bundled with Python in place (ensurepip), then lets that pip install the
requested packages from the package index, which is reachable here.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel', '--no-pip')


def main(argv):
    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], check=True,
                   stdout=subprocess.DEVNULL)
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]
    if any(not arg.startswith('-') for arg in args):
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + args, check=True)


if __name__ == '__main__':
    main(sys.argv[1:])
