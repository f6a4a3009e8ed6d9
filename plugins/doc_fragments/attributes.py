# -*- coding: utf-8 -*-
# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/etcdops.etcd.etcd) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - etcdops.etcd.etcd
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    CHECK_MODE_FULL = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
'''

    DIFF_MODE_NONE = r'''
options: {}
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
'''

    DIFF_MODE_FULL = r'''
options: {}
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
'''
