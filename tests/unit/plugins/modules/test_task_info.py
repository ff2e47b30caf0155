# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import task_info

TASK_ID = 'b1512b8d-1e17-4181-a1c3-93a7243fddd4'


@pytest.fixture
def task(fake_api):
    fake_api.tasks[TASK_ID] = dict(id=TASK_ID, name='dep_sync', status='PENDING')
    return fake_api.tasks[TASK_ID]


def test_reads_a_task(fake_api, run_module, task):
    result = run_module(task_info, task_id=TASK_ID)
    assert result['changed'] is False
    assert result['task'] == dict(id=TASK_ID, name='dep_sync', status='PENDING', unready=True)


def test_waits_until_finished(fake_api, run_module, clock, task):
    fake_api.task_script[TASK_ID] = ['PENDING', 'STARTED', 'SUCCESS']
    fake_api.tasks[TASK_ID]['result'] = {'devices': 3}
    result = run_module(task_info, task_id=TASK_ID, wait=True, check_mode=True)
    assert result['task']['status'] == 'SUCCESS' and result['task']['unready'] is False
    assert result['task']['result'] == {'devices': 3}
    assert len(clock.sleeps) == 2


def test_wait_times_out(fake_api, run_module, task):
    result = run_module(task_info, task_id=TASK_ID, wait=True, wait_timeout=10)
    assert result['failed'] is True
    assert 'task %s still not done after 10 seconds' % TASK_ID in result['msg']


def test_failed_task_fails_only_when_asked(fake_api, run_module, task):
    task.update(status='FAILURE', error='Apple answered 503')
    assert run_module(task_info, task_id=TASK_ID)['task']['error'] == 'Apple answered 503'
    result = run_module(task_info, task_id=TASK_ID, fail_on_failed=True)
    assert result['failed'] is True
    assert result['msg'] == 'task %s failed: Apple answered 503' % TASK_ID


@pytest.mark.parametrize('wait', [False, True])
def test_an_unknown_task_fails_at_once(fake_api, run_module, clock, wait):
    """The server answers 200 UNKNOWN (as Zentral): waiting for it would only time out."""
    result = run_module(task_info, task_id='nope', wait=wait)
    assert result['failed'] is True
    assert result['msg'] == 'the server knows no task nope'
    assert not clock.sleeps
