# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The documentation strings of every module and plugin are valid YAML, and the connection docs match the code."""

from __future__ import annotations

import importlib
import pathlib

import pytest
import yaml

from ansible_collections.espalier.mdm.plugins.doc_fragments import api as api_fragment
from ansible_collections.espalier.mdm.plugins.module_utils import api

ROOT = pathlib.Path(__file__).resolve().parents[4]
PLUGINS = sorted(
    '%s.%s' % (path.parent.name, path.stem)
    for kind in ('modules', 'inventory')
    for path in (ROOT / 'plugins' / kind).glob('*.py') if path.stem != '__init__'
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as a reader of the docs would expect."""


def _mapping(loader, node, deep=False):
    keys = set()
    for key_node, dummy in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, 'duplicate key %r' % (key,), key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _load(text):
    return list(yaml.load_all(text, Loader=_StrictLoader))


@pytest.mark.parametrize('name', PLUGINS)
def test_documentation_examples_and_return_are_valid_yaml(name):
    plugin = importlib.import_module('ansible_collections.espalier.mdm.plugins.%s' % name)
    documentation = _load(plugin.DOCUMENTATION)
    assert len(documentation) == 1 and isinstance(documentation[0], dict)
    examples = _load(plugin.EXAMPLES)
    assert examples and all(isinstance(doc, (list, dict)) for doc in examples)
    if name.startswith('modules.'):
        assert all(isinstance(task, dict) and 'name' in task for task in examples[0])
        returned = _load(plugin.RETURN)
        assert len(returned) == 1 and isinstance(returned[0], (dict, type(None)))


FRAGMENTS = sorted(
    (path.stem, attribute)
    for path in (ROOT / 'plugins' / 'doc_fragments').glob('*.py') if path.stem != '__init__'
    for attribute in vars(importlib.import_module(
        'ansible_collections.espalier.mdm.plugins.doc_fragments.%s' % path.stem).ModuleDocFragment)
    if attribute.isupper()
)


@pytest.mark.parametrize('name, attribute', FRAGMENTS)
def test_doc_fragments_are_valid_yaml(name, attribute):
    fragment = importlib.import_module('ansible_collections.espalier.mdm.plugins.doc_fragments.%s' % name)
    documents = _load(getattr(fragment.ModuleDocFragment, attribute))
    assert len(documents) == 1 and 'options' in documents[0]


@pytest.mark.parametrize('fragment', ['DOCUMENTATION', 'PLUGINS'])
def test_the_connection_fragment_documents_the_options_and_variables_of_module_utils(fragment):
    options = yaml.safe_load(getattr(api_fragment.ModuleDocFragment, fragment))['options']
    assert sorted(options) == sorted(api.CONNECTION_ENV) == sorted(api.API_ARGSPEC)
    for name, env in api.CONNECTION_ENV.items():
        doc = options[name]
        if fragment == 'PLUGINS':
            assert doc['env'] == [dict(name=env)]
        else:
            assert 'E(%s)' % env in ' '.join(doc['description'])
        spec = api.API_ARGSPEC[name]
        assert doc['type'] == spec['type']
        assert doc.get('default') == spec.get('default')
        assert doc.get('required', False) == spec.get('required', False)
