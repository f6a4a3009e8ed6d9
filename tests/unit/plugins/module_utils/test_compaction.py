# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils import compaction
from ansible_collections.etcdops.etcd.plugins.module_utils.compaction import target_revision
from ansible_collections.etcdops.etcd.plugins.module_utils.errors import (
    EtcdCompactedError,
    EtcdConnectionError,
    EtcdFutureRevisionError,
    EtcdNoSpaceError,
    EtcdPermissionError,
)


@pytest.mark.parametrize('revision, keep, expected', [
    (None, None, 500),   # default: the current revision
    (120, None, 120),    # explicit
    (None, 100, 400),    # keep the last 100 revisions
    (None, 1000, 0),     # history shorter than asked to keep
    (None, 0, 500),
])
def test_target_revision(revision, keep, expected):
    assert target_revision(500, revision, keep) == expected


# -- compact_history and settle, over a client that records its calls -----------------------------

DETAILS = {EtcdNoSpaceError: 'etcdserver: mvcc: database space exceeded',
           EtcdPermissionError: 'etcdserver: permission denied',
           EtcdConnectionError: 'connection refused'}


class FakeClient:
    """Stands in for EtcdClient: a cluster at revision ``current``, compacted up to ``compacted``
    (revisions below it are gone). ``compact_error`` / ``commit_errors`` (one per commit_once, None
    for success) make those calls fail. ``calls`` records every call, with the sleeps between them."""

    endpoints = ['http://a:2379', 'http://b:2379']

    def __init__(self, current=500, compacted=1, compact_error=None, commit_errors=()):
        self.current, self.compacted = current, compacted
        self.compact_error, self.commit_errors = compact_error, list(commit_errors)
        self.calls = []

    def current_revision(self):
        self.calls.append(('current_revision',))
        return self.current

    def revision_available(self, revision):
        self.calls.append(('revision_available', revision))
        return revision >= self.compacted

    def compact(self, revision, physical=True, timeout=None):
        self.calls.append(('compact', revision, physical, timeout))
        if self.compact_error is not None:
            raise self.compact_error(self.endpoints[0], 'mvcc: required revision has been compacted')
        self.compacted = revision

    def commit_once(self):
        self.calls.append(('commit_once',))
        error = self.commit_errors.pop(0) if self.commit_errors else None
        if error is not None:
            raise error(self.endpoints[0], DETAILS[error])

    def names(self):
        return [call[0] for call in self.calls]


@pytest.fixture
def sleeps(monkeypatch):
    """time.sleep of compaction.py, recorded instead of slept: the seconds asked for."""
    asked = []

    class Time:
        @staticmethod
        def sleep(seconds):
            asked.append(seconds)

    monkeypatch.setattr(compaction, 'time', Time)
    return asked


class Recorder:
    """A sleep that records itself into the client's calls, to see it between the two commits."""

    def __init__(self, client):
        self.client = client

    def sleep(self, seconds):
        self.client.calls.append(('sleep', seconds))


def test_settle_commits_twice_settle_interval_apart(monkeypatch):
    fake = FakeClient()
    monkeypatch.setattr(compaction, 'time', Recorder(fake))
    assert compaction.settle(fake) is None
    assert fake.calls == [('commit_once',), ('sleep', compaction.SETTLE_INTERVAL), ('commit_once',)]


def test_the_settle_interval_is_longer_than_etcds_backend_batch_interval():
    # etcd commits its backend every 100 ms by default (--backend-batch-interval).
    assert 0.1 < compaction.SETTLE_INTERVAL < 1


@pytest.mark.parametrize('errors_raised, commits', [
    ([EtcdNoSpaceError], 1),
    ([None, EtcdNoSpaceError], 2),
    ([EtcdPermissionError], 1),
])
def test_settle_says_why_the_members_were_not_made_to_commit(sleeps, errors_raised, commits):
    fake = FakeClient(commit_errors=errors_raised)
    why = compaction.settle(fake)
    assert why == ('the members were not made to commit (%s): their db_size_in_use may not show the compaction '
                   'until they next commit' % DETAILS[errors_raised[-1]])
    assert fake.names() == ['commit_once'] * commits


def test_settle_reports_a_member_gone_instead_of_failing(sleeps):
    # The compaction is done by then: a failure to commit is said, not raised as a failed compaction.
    fake = FakeClient(commit_errors=[EtcdConnectionError])
    why = compaction.settle(fake)
    assert why.startswith('the members were not made to commit (')
    assert 'may not show the compaction until they next commit' in why


def test_a_compaction_whose_settle_fails_is_still_reported_done(sleeps):
    fake = FakeClient(current=500, commit_errors=[EtcdConnectionError])
    result = compaction.compact_history(fake, False, physical=True, timeout=30, settled=True)
    assert result['changed'] is True and result['settled'] is False and result['revision'] == 500
    assert result['msg'].startswith('compacted to revision 500; the members were not made to commit (')


def test_a_compaction_done_is_settled(sleeps):
    fake = FakeClient(current=500)
    result = compaction.compact_history(fake, False, keep=100, physical=True, timeout=30, settled=True)
    assert result == dict(changed=True, revision=400, current_revision=500, physical=True, settled=True,
                          msg='compacted to revision 400')
    assert fake.calls == [('current_revision',), ('revision_available', 399), ('compact', 400, True, 30),
                          ('commit_once',), ('commit_once',)]
    assert sleeps == [compaction.SETTLE_INTERVAL]


def test_a_compaction_done_is_not_settled_unless_asked(sleeps):
    fake = FakeClient(current=500)
    result = compaction.compact_history(fake, False)
    assert result['changed'] is True and result['settled'] is False and result['revision'] == 500
    assert 'commit_once' not in fake.names() and sleeps == []
    assert result['msg'] == 'compacted to revision 500'


def test_a_compaction_done_that_cannot_be_settled_still_is_a_compaction(sleeps):
    fake = FakeClient(current=500, commit_errors=[EtcdNoSpaceError])
    result = compaction.compact_history(fake, False, settled=True)
    assert result['changed'] is True and result['revision'] == 500
    assert result['settled'] is False
    assert result['msg'].startswith('compacted to revision 500; the members were not made to commit (')
    assert fake.names() == ['current_revision', 'revision_available', 'compact', 'commit_once']


@pytest.mark.parametrize('case, fake, kwargs, changed, msg', [
    ('check mode', FakeClient(current=500), dict(check_mode=True), True, 'would compact to revision 500'),
    ('already compacted', FakeClient(current=500, compacted=500), dict(), False,
     'already compacted to revision 500 or later'),
    ('already compacted further', FakeClient(current=500, compacted=450), dict(keep=100), False,
     'already compacted to revision 400 or later'),
    ('nothing to compact', FakeClient(current=500), dict(keep=499), False,
     'nothing to compact: the history is shorter than asked to keep'),
    ('empty store', FakeClient(current=1), dict(), False,
     'nothing to compact: the history is shorter than asked to keep'),
    ('a compaction in between', FakeClient(current=500, compact_error=EtcdCompactedError), dict(), False,
     'already compacted to revision 500 or later'),
])
def test_nothing_is_settled_where_nothing_was_compacted(sleeps, case, fake, kwargs, changed, msg):
    check_mode = kwargs.pop('check_mode', False)
    result = compaction.compact_history(fake, check_mode, settled=True, **kwargs)
    assert (result['changed'], result['settled'], result['msg']) == (changed, False, msg), case
    assert 'commit_once' not in fake.names() and sleeps == [], case
    if case != 'a compaction in between':
        assert 'compact' not in fake.names(), case


def test_a_future_revision_is_refused_before_anything_is_sent(sleeps):
    fake = FakeClient(current=500)
    with pytest.raises(EtcdFutureRevisionError, match='revision 501 is in the future: the current revision is 500'):
        compaction.compact_history(fake, False, revision=501, settled=True)
    assert fake.names() == ['current_revision']


def test_an_explicit_revision_is_compacted_to_and_settled(sleeps):
    fake = FakeClient(current=500, compacted=100)
    result = compaction.compact_history(fake, False, revision=300, physical=False, settled=True)
    assert (result['changed'], result['revision'], result['physical'], result['settled']) == (True, 300, False, True)
    assert ('compact', 300, False, None) in fake.calls
    # Run again: already done, and nothing settled this time.
    again = compaction.compact_history(fake, False, revision=300, settled=True)
    assert (again['changed'], again['settled']) == (False, False)
    assert fake.names().count('commit_once') == 2
