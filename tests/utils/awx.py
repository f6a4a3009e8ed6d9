# Copyright (c) etcdops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What AWX adds to a job's ansible-runner private data directory, done the way AWX does it (test helper;
AWX itself cannot run here): a credential of a custom type (`inject`) and a survey's answers (`survey`).

What AWX does with a credential of a custom type, and what this does the same way:
- the namespace of the templates is the credential's inputs (a boolean field left out is false), plus
  `tower` and `awx` (the same object), whose `filename` is filled by the file injectors;
- each `file` injector (`template`, or `template.<name>` for several) is rendered with Jinja's immutable
  sandbox and written to a new file in the private data directory's `env/`, mode 0600; its path is
  `tower.filename` (one) or `tower.filename.<name>`;
- each `env` injector is rendered the same way into the job's environment (here: merged into
  `env/envvars`), but for the variables AWX refuses to let a credential set (ANSIBLE_* but a few, PATH,
  PYTHONPATH, JOB_ID, INVENTORY_ID, ...: the job's own);
- `extra_vars` injectors are rendered into a file passed with `-e @file` (here: merged into
  `env/extravars`).

  awx.py inject --type docs/awx/credential-type.yml --inputs inputs.yml --pdd DIR
prints what it did as JSON: the files written and the names of the variables set (not their values).

A survey (AWX's survey_spec): each question's answer (here: its default, or --answer VARIABLE=VALUE) goes
into the job's extra variables under the question's `variable`, typed as AWX types it - text,
textarea, password and multiplechoice stay strings, integer and float become numbers; an optional
question left empty is left out; a required one without an answer is an error.

  awx.py survey --spec docs/awx/survey-maintenance.json --pdd DIR [--answer maintenance_snapshot=false]
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The environment a credential may not set (AWX's injector validation: the job's own variables).
REFUSED = {'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID', 'INVENTORY_UPDATE_ID',
           'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES', 'CALLBACK_QUEUE',
           'CALLBACK_CONNECTION', 'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS', 'AWX_HOST',
           'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH'}
ALLOWED_ANSIBLE = {'ANSIBLE_NET_USERNAME', 'ANSIBLE_NET_PASSWORD', 'ANSIBLE_NET_AUTH_PASS',
                   'ANSIBLE_NET_AUTHORIZE'}


class Namespace:
    """An attribute bag, as AWX's `tower` namespace."""


def refused(name: str) -> bool:
    return name in REFUSED or (name.startswith('ANSIBLE_') and name not in ALLOWED_ANSIBLE)


def merge_into(path: str, values: dict) -> None:
    """Add ``values`` to the YAML mapping in ``path`` (env/envvars or env/extravars), mode 0600."""
    merged = {}
    if os.path.exists(path):
        with open(path) as handle:
            merged = yaml.safe_load(handle) or {}
    merged.update(values)
    with open(path, 'w') as handle:
        yaml.safe_dump(merged, handle)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def inject(credential_type: dict, inputs: dict, pdd: str) -> dict:
    sandbox = ImmutableSandboxedEnvironment()
    tower = Namespace()
    namespace = dict(inputs, tower=tower, awx=tower)
    for field in credential_type.get('inputs', {}).get('fields', []):
        if field.get('type') == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = False
    injectors = credential_type.get('injectors') or {}
    env_dir = os.path.join(pdd, 'env')
    os.makedirs(env_dir, exist_ok=True)
    files = {}
    for label, template in (injectors.get('file') or {}).items():
        data = sandbox.from_string(template).render(**namespace)
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as out:
            out.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' not in label:
            tower.filename = path
        else:
            if not isinstance(getattr(tower, 'filename', None), Namespace):
                tower.filename = Namespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
        files[label] = path
    env, skipped = {}, []
    for name, template in (injectors.get('env') or {}).items():
        if refused(name):
            skipped.append(name)
            continue
        env[name] = sandbox.from_string(template).render(**namespace)
    extra_vars = dict((name, sandbox.from_string(str(template)).render(**namespace))
                      for name, template in (injectors.get('extra_vars') or {}).items())
    for name, values in (('envvars', env), ('extravars', extra_vars)):
        if not values:
            continue
        merge_into(os.path.join(env_dir, name), values)
    return dict(files=files, env=sorted(env), refused=skipped, extra_vars=sorted(extra_vars))


def survey(spec: dict, answers: dict, pdd: str) -> dict:
    extra_vars = {}
    for question in spec.get('spec', []):
        name = question['variable']
        value = answers.get(name, question.get('default'))
        if value in (None, ''):
            if question.get('required'):
                raise SystemExit('survey question %r (%s) is required and has no answer'
                                 % (question['question_name'], name))
            continue
        kind = question.get('type')
        if kind == 'integer':
            value = int(value)
        elif kind == 'float':
            value = float(value)
        else:
            value = str(value)
        if kind == 'multiplechoice' and value not in question.get('choices', []):
            raise SystemExit('survey answer %r for %s is not one of %s' % (value, name, question.get('choices')))
        extra_vars[name] = value
    os.makedirs(os.path.join(pdd, 'env'), exist_ok=True)
    merge_into(os.path.join(pdd, 'env', 'extravars'), extra_vars)
    return extra_vars


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('inject', help='apply a credential to a private data directory')
    p.add_argument('--type', required=True, help="the credential type's YAML (inputs and injectors)")
    p.add_argument('--inputs', required=True, help="the credential's inputs (YAML)")
    p.add_argument('--pdd', required=True, help="ansible-runner's private data directory")
    p = sub.add_parser('survey', help="put a survey's answers into a private data directory's extra vars")
    p.add_argument('--spec', required=True, help="the survey spec (JSON, as AWX exports it)")
    p.add_argument('--pdd', required=True, help="ansible-runner's private data directory")
    p.add_argument('--answer', action='append', default=[], metavar='VARIABLE=VALUE',
                   help='an answer (else the question\'s default)')
    args = parser.parse_args(argv)
    if args.command == 'survey':
        with open(args.spec) as handle:
            spec = json.load(handle)
        answers = dict(answer.split('=', 1) for answer in args.answer)
        print(json.dumps(survey(spec, answers, args.pdd), indent=2))
        return 0
    with open(args.type) as handle:
        credential_type = yaml.safe_load(handle)
    with open(args.inputs) as handle:
        inputs = yaml.safe_load(handle) or {}
    print(json.dumps(inject(credential_type, inputs, args.pdd), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
