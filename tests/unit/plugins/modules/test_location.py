# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import location, location_asset_info, location_info


def posts(fake_api):
    return [(c[2], c[3]) for c in fake_api.calls_to('POST', r'/api/mdm/locations/$')]


def test_adds_a_location_after_a_dry_run(fake_api, run_module):
    token = fake_api.add_vpp_token(name='Paris')
    result = run_module(location, server_token=token)
    assert result['changed'] is True and result['action'] == 'created'
    assert result['location']['name'] == 'Paris' and result['location']['id'] > 0
    assert [q for q, dummy in posts(fake_api)] == [dict(dry_run='1'), {}]
    assert token not in result['msg'] and token not in str(result.get('diff'))


def test_the_same_token_again_is_not_changed(fake_api, run_module):
    token = fake_api.add_vpp_token()
    run_module(location, server_token=token)
    again = run_module(location, server_token=token)
    assert again['changed'] is False and again['action'] == 'unchanged'
    assert len(posts(fake_api)) == 3  # dry run, upload, dry run


def test_check_mode_asks_the_server_and_writes_nothing(fake_api, run_module):
    token = fake_api.add_vpp_token(name='Paris')
    result = run_module(location, server_token=token, check_mode=True, diff=True)
    assert result['changed'] is True and result['action'] == 'created' and fake_api.locations == {}
    assert result['diff']['after']['name'] == 'Paris' and result['diff']['before']['name'] is None
    assert [q for q, dummy in posts(fake_api)] == [dict(dry_run='1')]


def test_a_renewal_shows_the_new_expiry_in_the_diff(fake_api, run_module):
    run_module(location, server_token=fake_api.add_vpp_token(uid='lib', days=10))
    renewal = fake_api.add_vpp_token(uid='lib', days=365)
    result = run_module(location, server_token=renewal, diff=True)
    assert result['changed'] is True and result['action'] == 'renewed' and len(fake_api.locations) == 1
    before, after = result['diff']['before'], result['diff']['after']
    assert before['server_token_expiration_date'] < after['server_token_expiration_date']
    assert before['mdm_info_id'] == after['mdm_info_id'] and 'server_token' not in after


def test_reads_the_token_from_a_file(fake_api, run_module, tmp_path):
    token = fake_api.add_vpp_token()
    path = tmp_path / 'sToken.vpptoken'
    path.write_text(token + '\n')
    assert run_module(location, server_token_path=str(path))['action'] == 'created'
    missing = run_module(location, server_token_path=str(tmp_path / 'nope'))
    assert missing['failed'] is True and 'cannot read server_token_path' in missing['msg']


def test_another_mdm_fails_unless_forced_also_in_check_mode(fake_api, run_module):
    token = fake_api.add_vpp_token(claimed_by_other=True)
    for check in (True, False):
        result = run_module(location, server_token=token, check_mode=check)
        assert result['failed'] is True and result['status'] == 409 and 'another MDM' in result['msg']
    assert run_module(location, server_token=token, force=True)['action'] == 'created'


def test_a_refused_token_fails(fake_api, run_module):
    result = run_module(location, server_token='bm9wZQ==')
    assert result['failed'] is True and result['status'] == 400 and 'Apple refused' in result['msg']


def test_location_info(fake_api, run_module):
    run_module(location, server_token=fake_api.add_vpp_token(uid='a', name='Paris', days=10))
    run_module(location, server_token=fake_api.add_vpp_token(uid='b', name='Lyon', org='Other', days=200))
    result = run_module(location_info)
    assert [loc['name'] for loc in result['locations']] == ['Paris', 'Lyon'] and result['changed'] is False
    assert [loc['name'] for loc in run_module(location_info, name='Lyon')['locations']] == ['Lyon']
    assert [loc['name'] for loc in run_module(location_info, organization_name='Acme')['locations']] == ['Paris']
    assert [loc['name'] for loc in run_module(location_info, expiring_within_days=30)['locations']] == ['Paris']
    paris = result['locations'][0]
    assert run_module(location_info, id=paris['id'])['locations'] == [paris]
    assert run_module(location_info, id=999)['locations'] == []
    assert run_module(location_info, expiring_within_days=-1)['failed'] is True


def test_location_asset_info(fake_api, run_module):
    run_module(location, server_token=fake_api.add_vpp_token(uid='a'))
    loc_id = next(iter(fake_api.locations))
    fake_api.add_location_asset(loc_id, 1, adam_id='361309726', total_count=10, available_count=2)
    fake_api.add_location_asset(loc_id, 2, adam_id='284882215', total_count=10, available_count=9)
    assert len(run_module(location_asset_info)['location_assets']) == 2
    low = run_module(location_asset_info, available_below=5)['location_assets']
    assert [la['asset'] for la in low] == [1]
    assert [la['asset'] for la in run_module(location_asset_info, adam_id='284882215')['location_assets']] == [2]
    assert len(run_module(location_asset_info, location_id=loc_id)['location_assets']) == 2
    bad = run_module(location_asset_info, location_id=999)
    assert bad['failed'] is True and bad['status'] == 400
    assert fake_api.calls_to('GET', r'/location_assets/$')[-1][2]['location_id'] == '999'
