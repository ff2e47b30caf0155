# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import software_update_info, software_updates_sync


def test_sync_starts_the_task(fake_api, run_module):
    result = run_module(software_updates_sync)
    assert result['changed'] is True and result['task_id'] in fake_api.tasks
    assert 'counts' not in result
    assert [c[1] for c in fake_api.calls_to('POST', r'.')] == ['/api/mdm/software_updates/sync/']


def test_sync_waits_and_returns_the_counts(fake_api, run_module, clock):
    fake_api.sync_counts = dict(created=3, deleted=1, present=40)
    original = fake_api._sync_software_updates

    def scripted():
        answer = original()
        for task_id in fake_api.tasks:
            fake_api.task_script[task_id] = ['STARTED', 'SUCCESS']
        return answer

    fake_api._sync_software_updates = scripted
    result = run_module(software_updates_sync, wait=True)
    assert result['changed'] is True
    assert result['counts'] == dict(created=3, present=40, deleted=1)
    assert result['task']['status'] == 'SUCCESS' and result['task']['name'] == 'sync_software_updates'
    assert result['msg'] == 'software update catalogue synced: 3 created, 40 present, 1 deleted'


def test_a_sync_that_changed_nothing_is_not_a_change(fake_api, run_module, clock):
    fake_api.sync_counts = dict(created=0, deleted=0, present=40)
    original = fake_api._sync_software_updates

    def finished():
        answer = original()
        for task in fake_api.tasks.values():
            task['status'] = 'SUCCESS'
        return answer

    fake_api._sync_software_updates = finished
    result = run_module(software_updates_sync, wait=True)
    assert (result['changed'], result['counts']['present']) == (False, 40)


def test_a_failed_sync_fails(fake_api, run_module, clock):
    original = fake_api._sync_software_updates

    def failing():
        answer = original()
        for task in fake_api.tasks.values():
            task.update(status='FAILURE', error='FeedUnavailable: the feed is not JSON')
        return answer

    fake_api._sync_software_updates = failing
    result = run_module(software_updates_sync, wait=True)
    assert result['failed'] is True
    assert result['msg'] == 'software update sync failed: FeedUnavailable: the feed is not JSON'


def test_check_mode_starts_nothing(fake_api, run_module):
    result = run_module(software_updates_sync, check_mode=True, wait=True)
    assert (result['changed'], result['task_id']) == (True, None)
    assert not fake_api.calls_to('POST', r'.') and not fake_api.tasks


def test_a_refused_sync_fails(fake_api, run_module):
    fake_api.inject(403, {'detail': 'You do not have permission to perform this action.'}, method='POST')
    result = run_module(software_updates_sync)
    assert result['failed'] is True and 'permission' in result['msg']


def test_info_lists_the_catalogue(fake_api, run_module):
    mac = fake_api.add_software_update()
    iphone = fake_api.add_software_update(platform='iOS', version='18.1', build='22B83')
    result = run_module(software_update_info, check_mode=True)
    assert result['changed'] is False and result['software_updates'] == [mac, iphone]
    assert run_module(software_update_info, platform='iOS')['software_updates'] == [iphone]
    assert run_module(software_update_info, platform='visionOS')['software_updates'] == []
    assert fake_api.calls_to('GET', r'/software_updates/')[-1][2]['platform'] == 'visionOS'
