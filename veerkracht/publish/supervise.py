"""Run a command so that it dies with us: ``python -m veerkracht.publish.supervise PARENT_PID CMD…``.

tippecanoe forks worker processes. ``PR_SET_PDEATHSIG`` on tippecanoe alone does not reach them
(a fork clears it), so a ``kill -9`` of the pipeline left a tippecanoe worker writing into the web
folder for seconds after. This supervisor asks the kernel for SIGTERM when the pipeline dies,
runs the command in its own process group, and on SIGTERM kills that whole group.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the pipeline died before we could ask
        return 1
    child = subprocess.Popen(command, start_new_session=True)

    def stop(signum, _frame):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return child.wait()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
