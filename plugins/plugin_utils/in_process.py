# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Run the espalier.mdm API modules inside the Ansible worker when they would run on the controller anyway.

The modules only talk HTTP to the Espalier API. Run the usual way, every task forks a new
Python on the target, unpacks the module and imports ``ansible.module_utils.urls``: about
a second per task on a small machine, where the API call itself takes milliseconds. When
the task's connection is ``local`` (the usual ``hosts: localhost`` or ``delegate_to:
localhost``), the action plugin of each module runs the module's own ``main()`` in the
worker process instead, with the same arguments, encoded and decoded with the same JSON
profiles, so the result is the one the module would have returned. Ansible forks a worker
per task, so what the module does to the process (environment, working directory) ends
with the task.

The module runs the usual way (``ActionBase._execute_module``) when the connection is not
``local``, with ``become``, with ``async``, when the variable ``espalier_mdm_in_process``
is false, or when this ansible-core does not offer what is needed here (before 2.19).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import traceback

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

# Imported here so that the strategy, which loads action plugins before forking the workers,
# leaves these imported for every worker: the HTTP stack is what a task would import otherwise.
from ansible.module_utils import basic
from ansible_collections.espalier.mdm.plugins.module_utils import api  # noqa: F401 pylint: disable=unused-import

try:
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # ansible-core < 2.19: run the modules the usual way
    Direction = get_module_encoder = None

display = Display()

IN_PROCESS_VAR = 'espalier_mdm_in_process'
PROFILE = 'legacy'  # the serialization profile of modules that declare none, as the espalier.mdm modules


class ApiModuleAction(ActionBase):
    """Action plugin of an espalier.mdm module: the module itself, in-process when possible."""

    _supports_check_mode = True
    _supports_async = True
    # The module (plugins/modules/X.py) whose main() runs in-process. The action plugin file
    # imports it, so the strategy's early load of the plugin imports it before the fork too.
    MODULE = None

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        why_not = self._in_process_refusal(task_vars)
        prepared = None
        if not why_not:
            try:
                prepared = self._prepare(task_vars)
            except (AttributeError, TypeError) as ex:  # an ansible-core whose internals moved
                why_not = 'cannot prepare the arguments in this process (%s)' % ex
        if why_not:
            display.vvv('espalier.mdm: running %s as a module: %s' % (self._task.action, why_not))
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv('espalier.mdm: running %s in the controller process' % self._task.action)
        return merge_hash(result, self._run_in_process(*prepared))

    # -- the decision -------------------------------------------------------------------

    def _in_process_refusal(self, task_vars):
        """Why the module must run the usual way, or None when it can run in this process."""
        if get_module_encoder is None:
            return 'ansible-core before 2.19'
        if self.MODULE is None:
            return 'no module given to the action plugin'
        wanted = task_vars.get(IN_PROCESS_VAR, True)
        try:
            if not boolean(self._templar.template(wanted), strict=True):
                return '%s is false' % IN_PROCESS_VAR
        except TypeError:
            return '%s is not a boolean' % IN_PROCESS_VAR
        if getattr(self._connection, 'transport', None) != 'local':
            return 'the connection is not local'
        if self._play_context.become:
            return 'become is set'
        if self._task.async_val:
            return 'async is set'
        return None

    # -- in-process run -----------------------------------------------------------------

    def _prepare(self, task_vars):
        """The module's stdin as it would get it (arguments and internal ones) and the task's environment."""
        args = dict(self._task.args)
        self._update_module_args(self._task.action, args, task_vars)
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        payload = json.dumps({'ANSIBLE_MODULE_ARGS': args}, cls=encoder).encode()
        environment = {}
        self._compute_environment_string(environment)
        return payload, environment

    def _run_in_process(self, payload, environment):
        module = self.MODULE
        stdout, stderr = io.StringIO(), io.StringIO()
        rc = 0
        with _module_args(payload), _environment(environment), \
                contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                module.main()
            except SystemExit as ex:
                rc = ex.code if isinstance(ex.code, int) else 1
            except Exception:  # pylint: disable=broad-exception-caught
                # what a module crash looks like when the module runs on a target
                rc = 1
                stderr.write(traceback.format_exc())
        data = self._parse_returned_data(dict(rc=rc, stdout=stdout.getvalue(), stderr=stderr.getvalue()), PROFILE)
        remove_internal_keys(data)
        return data


@contextlib.contextmanager
def _module_args(payload):
    """Make AnsibleModule read these arguments, as it would read them from its stdin."""
    saved = basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = payload, PROFILE
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved


@contextlib.contextmanager
def _environment(variables):
    """The task's environment: keyword, as the module would see it in its own process."""
    if not variables:
        yield
        return
    saved = dict(os.environ)
    try:
        os.environ.update({str(k): to_text(v) for k, v in variables.items()})
    except (TypeError, ValueError) as ex:
        raise AnsibleError('cannot set the task environment: %s' % ex) from ex
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
