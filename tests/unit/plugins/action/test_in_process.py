# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import shell_loader
from ansible.template import Templar

from ansible_collections.espalier.mdm.plugins.action import device as device_action
from ansible_collections.espalier.mdm.plugins.action import device_info as device_info_action
from ansible_collections.espalier.mdm.plugins.action import push_certificate as push_certificate_action
from ansible_collections.espalier.mdm.plugins.plugin_utils import in_process
from ansible_collections.espalier.mdm.tests.unit.plugins import push_cert_fixtures as certs
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import BASE_URL, TOKEN

pytestmark = pytest.mark.skipif(in_process.get_module_encoder is None, reason='in-process runs need ansible-core 2.19')


def make_action(plugin, args, check_mode=False, diff=False, transport='local', become=False, async_val=0,
                environment=None):
    task = MagicMock()
    task.action = 'espalier.mdm.%s' % plugin.__name__.rsplit('.', 1)[-1]
    task.args = dict(args)
    task.check_mode, task.diff, task.no_log, task.async_val = check_mode, diff, False, async_val
    task.environment = environment or []
    connection = MagicMock()
    connection.transport = transport
    connection.socket_path = None
    connection.has_native_async = False
    connection._shell = shell_loader.get('sh')
    connection._shell.tmpdir = None
    connection.become = None
    play_context = MagicMock()
    play_context.become = become
    play_context.executable = '/bin/sh'
    action = plugin.ActionModule(task, connection, play_context, DataLoader(), Templar(loader=DataLoader()), None)
    action._execute_module = MagicMock(return_value=dict(changed=False, ran='as a module'))
    action._remove_tmp_path = MagicMock()
    return action


def api_args(**args):
    return dict(args, url=BASE_URL, token=TOKEN)


def test_runs_the_module_in_process_on_a_local_connection(fake_api):
    dev = fake_api.add_device(serial_number='C02ABC')
    action = make_action(device_info_action, api_args(serial_number='C02ABC'))
    result = action.run(task_vars={})
    assert result['changed'] is False
    assert [d['id'] for d in result['devices']] == [dev['id']]
    assert result['invocation']['module_args']['serial_number'] == 'C02ABC'
    assert not action._execute_module.called
    assert not [k for k in result if k.startswith('_ansible_') and k != '_ansible_parsed']


def test_check_mode_and_diff_reach_the_module(fake_api):
    dev = fake_api.add_device(serial_number='C02ABC')
    result = make_action(device_action, api_args(serial_number='C02ABC', blocked=True),
                         check_mode=True, diff=True).run(task_vars={})
    assert result['changed'] is True
    assert result['diff']['after']['blocked'] is True
    assert fake_api.devices[dev['id']]['blocked_at'] is None
    assert not fake_api.calls_to('POST', r'.')


def test_a_module_failure_is_the_same_failure(fake_api):
    result = make_action(device_action, api_args(serial_number='NOPE', blocked=True)).run(task_vars={})
    assert result['failed'] is True
    assert result['msg'] == 'no enrolled device with serial_number NOPE'


def test_argument_errors_come_from_the_module_argspec(fake_api):
    result = make_action(device_action, api_args(serial_number='X', blocked='maybe')).run(task_vars={})
    assert result['failed'] is True
    assert 'blocked' in result['msg']


def test_no_log_options_are_masked(fake_api):
    key = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----'
    args = api_args(name='Production', certificate=certs.FIRST, private_key=key, private_key_password='hunter2-pw')
    result = make_action(push_certificate_action, args).run(task_vars={})
    assert result['changed'] is True
    text = json.dumps(result, default=str)
    assert 'c2VjcmV0LWtleQ' not in text and 'hunter2-pw' not in text


def test_the_task_environment_is_seen_by_the_module_and_restored(fake_api, monkeypatch):
    monkeypatch.delenv('ESPALIER_TOKEN', raising=False)
    fake_api.add_device(serial_number='C02ABC')
    action = make_action(device_info_action, dict(url=BASE_URL, serial_number='C02ABC'),
                         environment=[{'ESPALIER_TOKEN': TOKEN}])
    result = action.run(task_vars={})
    assert 'failed' not in result
    assert len(result['devices']) == 1
    assert 'ESPALIER_TOKEN' not in os.environ


def test_a_module_crash_is_a_failed_result_with_the_traceback(fake_api, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError('boom')

    monkeypatch.setattr(device_info_action.device_info, 'run', crash)
    result = make_action(device_info_action, api_args()).run(task_vars={})
    assert result['failed'] is True
    assert 'RuntimeError: boom' in result['module_stderr']


@pytest.mark.parametrize('options, task_vars, reason', [
    (dict(transport='ssh'), {}, 'the connection is not local'),
    (dict(become=True), {}, 'become is set'),
    (dict(async_val=30), {}, 'async is set'),
    ({}, {'espalier_mdm_in_process': False}, 'espalier_mdm_in_process is false'),
    ({}, {'espalier_mdm_in_process': 'no'}, 'espalier_mdm_in_process is false'),
])
def test_runs_as_a_module_otherwise(fake_api, options, task_vars, reason):
    action = make_action(device_info_action, api_args(), **options)
    assert action._in_process_refusal(task_vars) == reason
    result = action.run(task_vars=task_vars)
    assert result['ran'] == 'as a module'
    assert action._execute_module.called
    assert not fake_api.calls


def test_runs_as_a_module_when_this_ansible_core_cannot_prepare_the_arguments(fake_api):
    action = make_action(device_info_action, api_args())
    action._update_module_args = MagicMock(side_effect=TypeError('unexpected keyword'))
    result = action.run(task_vars={})
    assert result['ran'] == 'as a module'
    assert not fake_api.calls


def test_each_action_plugin_runs_its_own_module():
    from ansible_collections.espalier.mdm.plugins.action import (
        device_command_info, device_erase, device_lock, push_certificate_info, task_info,
    )
    for plugin in (device_action, device_info_action, push_certificate_action, device_command_info, device_erase,
                   device_lock, push_certificate_info, task_info):
        assert plugin.ActionModule.MODULE.__name__.rsplit('.', 1)[-1] == plugin.__name__.rsplit('.', 1)[-1]
