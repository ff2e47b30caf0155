#!/usr/bin/env python3
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Build the collection from a copy of the tree with stray files in it; the artifact holds collection files only.

    check_artifact.py REPO ANSIBLE_GALAXY

The copy is what git would commit (as a fresh clone) plus what a working machine leaves
lying around: a virtualenv, build/, var/ with settings, a vendor key in certs/, a cache in
tests/output/. galaxy.yml's manifest (an allow-list) must keep every one of them out.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STRAYS = (
    '.venv/bin/python', '.venv/lib/python3.11/site-packages/x.py', 'build/lib/x.py', 'var/settings.json',
    'var/espalier.db', 'certs/vendor.key', 'certs/push.key', 'tests/output/junit/x.xml',
    'plugins/modules/__pycache__/device.cpython-311.pyc', 'espalier-mdm-0.0.1.tar.gz', '.env',
)
ALLOWED_TOP = ('MANIFEST.json', 'FILES.json', 'LICENSE', '.yamllint', 'README.md', 'CHANGELOG.md', 'CHANGELOG.rst')
ALLOWED_DIRS = ('docs/', 'meta/', 'plugins/', 'roles/', 'playbooks/', 'changelogs/', 'tests/unit/',
                'tests/integration/', 'tests/sanity/')
REQUIRED = ('MANIFEST.json', 'FILES.json', 'LICENSE', 'docs/collection.md', 'meta/runtime.yml',
            'meta/execution-environment.yml', 'plugins/modules/device.py', 'plugins/inventory/devices.py',
            'plugins/module_utils/api.py', 'roles/server/tasks/main.yml', 'playbooks/fleet.yml',
            'changelogs/changelog.yaml', 'tests/unit/plugins/fake_api.py', 'tests/config.yml',
            'tests/integration/targets/device/tasks/main.yml')


def copy_tree(repo: Path, dest: Path) -> None:
    files = subprocess.run(['git', '-C', str(repo), 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           check=True, capture_output=True).stdout.split(b'\0')
    for name in filter(None, files):
        source = repo / name.decode()
        if source.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for stray in STRAYS:
        target = dest / stray
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text('stray\n')


def allowed(member: str) -> bool:
    return member in ALLOWED_TOP or member == 'tests/config.yml' or member.startswith(ALLOWED_DIRS)


def main(repo: str, galaxy: str) -> int:
    with tempfile.TemporaryDirectory(prefix='espalier-artifact.') as tmp:
        tree, dist = Path(tmp) / 'tree', Path(tmp) / 'dist'
        copy_tree(Path(repo), tree)
        subprocess.run([galaxy, 'collection', 'build', '--output-path', str(dist), str(tree)], check=True,
                       stdout=subprocess.DEVNULL)
        (artifact,) = dist.glob('espalier-mdm-*.tar.gz')
        with tarfile.open(artifact) as tar:
            members = [m.name for m in tar.getmembers() if m.isfile()]
    wrong = sorted(m for m in members if not allowed(m) or '__pycache__' in m)
    missing = sorted(set(REQUIRED) - set(members))
    strays = sorted(set(STRAYS) & set(members))
    print('%s: %d files' % (artifact.name, len(members)))
    for label, names in (('not collection files', wrong), ('missing', missing), ('strays shipped', strays)):
        if names:
            print('%s: %s' % (label, ', '.join(names)))
    return 1 if wrong or missing or strays else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
