"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads from a host this network cannot reach.

ansible-test runs it with get-pip's options inside a new, empty virtual environment (one per sanity test).
It installs the interpreter's bundled pip with ensurepip, then lets that pip install what ansible-test asked for
(an exact pip version) from the package index, which is reachable. tests/utils/bootstrap.sh puts it in
ansible-test's cache, where ansible-test looks before downloading.
"""

import subprocess
import sys

# get-pip.py understands these; pip itself does not.
GET_PIP_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    pip_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_OPTIONS]
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + pip_args)
    if '--no-setuptools' in sys.argv[1:]:
        # Older ensurepip bundles setuptools too; get-pip would not have installed it.
        subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'])


if __name__ == '__main__':
    main()
