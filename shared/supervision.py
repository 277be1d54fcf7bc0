"""``ladder run``'s supervisor: supervisord, configured from the Procfile.

supervisord (the ``supervisor`` package) runs every long-running process of the
Procfile, each as ``ladder start NAME``: the Procfile's line, expanded from the
environment as in docker-compose. Why supervisord, of the process runners on PyPI:

- honcho (2.0.0) reads a Procfile, but by design stops every process when one exits,
  and kills the rest 5 s after SIGTERM, before the ledger worker's soft shutdown
  (``LADDER_SOFT_SHUTDOWN_TIMEOUT``, 10 s) has put its batch back.
- circus (0.19.0) restarts processes and passes their exit codes to hooks, but brings
  pyzmq, tornado and psutil, and restarts a process that keeps failing as fast as it
  can, unless one more process (its flapping plugin) watches it.
- supervisor (4.3) has no dependencies. It backs off a process that fails as it starts
  and gives up on it (``startsecs``, ``startretries``); it stops every process at once,
  signalling each one's process group (gunicorn's and Celery's children too), and
  kills what is left after the grace period; it writes each process's log; and
  ``supervisorctl`` shows and controls them.

A process that exits after it has started is restarted by :func:`main`, an event
listener, not by supervisord's ``autorestart``: supervisord would start it again
before a listener could read how it ended, and the line that reports a restart says
that (name, exit code, attempt).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import signal
import sys
import xmlrpc.client
from collections import Counter
from collections.abc import Collection
from pathlib import Path

from shared import procfile
from shared.config import ConfigError

GROUP = "ladder"
# A process that exits sooner than this after starting failed to start: supervisord
# tries again after 1 s, 2 s, then 3 s, and gives up after the third retry.
START_SECONDS = 3
START_RETRIES = 3


def write_config(path: Path, procfile_path: Path, log_dir: Path, grace: float,
                 optional: Collection[str] = ()) -> Path:
    """Write supervisord's configuration for the Procfile's long-running processes (of
    the optional ones, those in ``optional``), with its socket and pid file beside it. They
    inherit supervisord's environment."""
    run_dir = path.parent
    ladder = Path(sys.executable).parent / "ladder"
    names = procfile.long_running(procfile_path, optional)
    socket = run_dir / "supervisor.sock"
    sections: dict[str, dict[str, str]] = {
        "supervisord": {"nodaemon": "true", "silent": "true",
                        "logfile": str(log_dir / "supervisord.log"),
                        "logfile_maxbytes": "0", "pidfile": str(run_dir / "supervisord.pid")},
        "unix_http_server": {"file": str(socket), "chmod": "0700"},
        "rpcinterface:supervisor": {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"},
        "supervisorctl": {"serverurl": f"unix://{socket}"},
        # One group, so that a stop signals every process at once, not one after another.
        f"group:{GROUP}": {"programs": ",".join(names)},
    }
    for name in names:
        sections[f"program:{name}"] = {
            "command": shlex.join([str(ladder), "start", name, "--procfile",
                                   str(procfile_path.resolve())]),
            "directory": os.getcwd(),
            "autorestart": "false",  # main() restarts it, once it has said how it ended
            "startsecs": str(START_SECONDS), "startretries": str(START_RETRIES),
            "stopsignal": "TERM", "stopwaitsecs": f"{grace:g}", "stopasgroup": "true",
            "killasgroup": "true", "redirect_stderr": "true",
            "stdout_logfile": str(log_dir / f"{name}.log"), "stdout_logfile_maxbytes": "0",
        }
    sections["eventlistener:restarts"] = {
        "command": shlex.join([sys.executable, "-m", "shared.supervision", str(log_dir)]),
        "directory": os.getcwd(),
        "events": "PROCESS_STATE_EXITED,PROCESS_STATE_BACKOFF,PROCESS_STATE_FATAL",
        "buffer_size": "100", "autorestart": "true",
        # Its stdout is its conversation with supervisord; what it says on stderr reaches
        # the terminal of `ladder run`, through supervisord's.
        "stdout_logfile": "NONE", "stderr_logfile": "/dev/stderr",
        "stderr_logfile_maxbytes": "0",
    }
    # supervisord expands %(name)s in its values, some of them twice: no escape of a
    # literal % survives both.
    for values in sections.values():
        for value in values.values():
            if "%" in value:
                raise ConfigError(f"supervisord cannot take a path with '%' in it: {value}")
    config = configparser.RawConfigParser()
    config.read_dict(sections)
    run_dir.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        config.write(f)
    return path


def main() -> None:
    """supervisord's event listener: restart a process that exited, and say how it ended.

    It reads events on stdin and answers on stdout (supervisord's protocol); what it
    says is on stderr.
    """
    from supervisor import childutils

    log_dir = Path(sys.argv[1])
    rpc = childutils.getRPCInterface(os.environ).supervisor
    attempts: Counter[str] = Counter()
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        event, _ = childutils.eventdata(payload + "\n")
        if event["groupname"] == GROUP:
            name, kind = event["processname"], headers["eventname"]
            if kind == "PROCESS_STATE_EXITED":
                attempts[name] += 1
                status = rpc.getProcessInfo(f"{GROUP}:{name}")["exitstatus"]
                # Its process group may outlive it (a killed gunicorn's workers): nothing
                # of it may hold its port when it starts again.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(event["pid"]), signal.SIGKILL)
                # supervisord reports -1 for a process that a signal ended.
                ended = "was killed by a signal" if status == -1 else f"exited with code {status}"
                _say(f"{name} (pid {event['pid']}) {ended}; restarting it "
                    f"(attempt {attempts[name]})")
                try:
                    rpc.startProcess(f"{GROUP}:{name}", False)
                except xmlrpc.client.Fault as exc:
                    # supervisord is stopping everything, or started it already.
                    _say(f"{name} not restarted: {exc.faultString}")
            elif kind == "PROCESS_STATE_BACKOFF" and int(event["tries"]) <= START_RETRIES:
                attempts[name] += 1
                _say(f"{name} exited within {START_SECONDS} s of starting; starting it again "
                    f"in {event['tries']} s (attempt {attempts[name]}); see "
                    f"{log_dir / (name + '.log')}")
            elif kind == "PROCESS_STATE_FATAL":
                _say(f"{name} keeps exiting as it starts: given up after {attempts[name]} "
                    f"attempt(s); see {log_dir / (name + '.log')}")
        childutils.listener.ok(sys.stdout)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
