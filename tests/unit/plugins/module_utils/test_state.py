# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import types

import pytest

from ansible_collections.espalier.mdm.plugins.module_utils.state import (
    build_diff, changed_keys, converge, normalise,
)


@pytest.mark.parametrize('value, expected', [
    ('yes', True), ('False', False), (' 14.2 ', '14.2'), ('', None), (None, None), (3, 3),
    ({'a': [' x ', 'no']}, {'a': ['x', False]}),
])
def test_normalise(value, expected):
    assert normalise(value) == expected


def test_changed_keys_ignores_unmanaged_and_equivalent_values():
    current = dict(blocked=False, name='Mac ', model='Macmini8,1')
    assert changed_keys(current, dict(blocked=True, name='Mac', model=None)) == ['blocked']
    assert changed_keys(None, dict(blocked='true')) == ['blocked']


def test_build_diff_only_differing_keys_by_default():
    assert build_diff(dict(a=1, b=2), dict(a=1, b=3, c=4)) == dict(before=dict(b=2, c=None), after=dict(b=3, c=4))
    assert build_diff(dict(a=1), dict(a=1), keys=['a']) == dict(before=dict(a=1), after=dict(a=1))


def _module(check_mode):
    return types.SimpleNamespace(check_mode=check_mode)


def test_converge_without_change_writes_nothing():
    def apply():
        raise AssertionError('no write expected')

    outcome = converge(_module(False), dict(blocked=True), dict(blocked=True), apply, apply)
    assert outcome.changed is False
    assert outcome.applied == dict(blocked=True)


def test_converge_writes_and_diffs():
    outcome = converge(_module(False), dict(blocked=False, x=1), dict(blocked=True),
                       apply=lambda: dict(blocked=True, x=2), predict=None)
    assert outcome.changed is True
    assert outcome.diff == dict(before=dict(blocked=False), after=dict(blocked=True))
    assert outcome.applied == dict(blocked=True, x=2)


def test_converge_in_check_mode_predicts_instead_of_writing():
    def apply():
        raise AssertionError('check mode must not write')

    outcome = converge(_module(True), dict(state='a'), dict(state='b'), apply,
                       predict=lambda: dict(state='b'), diff_keys=['state'])
    assert outcome.changed is True
    assert outcome.after == dict(state='b')
    assert outcome.diff == dict(before=dict(state='a'), after=dict(state='b'))


def test_converge_compares_views():
    def view(device):
        return dict(blocked=device['blocked_at'] is not None)

    outcome = converge(_module(False), dict(blocked_at='2024'), dict(blocked=True), None, None, view=view)
    assert outcome.changed is False
