#!/usr/bin/env python3
"""intelmqd's systemd process manager against its PID process manager, with a
native floor, for N bench bots, in one run (see bench/README.md, "The systemd
process manager"):

  (a) intelmqd, PID mode: the daemon runs the bots itself;
  (b) intelmqd, systemd mode (`process_manager: "systemd"`,
      `systemd_instance: "user"`): each bot is the unit
      intelmq-bot@<id>.service of contrib/systemd's template, run by an
      isolated `systemd --user` manager that this script starts;
  (c) the floor: `systemctl --user start|stop <all N units>` in one call, on
      the same manager and units, without intelmqd.

Measured for each: botnet start until every bot runs, `intelmqctl --json
status` as a whole client process and as a raw round trip (the floor: one
`systemctl --user show` of the N units with the daemon's properties), botnet
stop until no bot process remains, and the daemon's RSS with N bots running.

Needs root (new namespaces and a cgroup), /lib/systemd/systemd, cgroup2 (pure
or the `unified` hierarchy of a hybrid setup), gcc, rustc, cargo. Python
standard library only; the helpers of bench.py are reused.

The manager is isolated from the machine as tests/src/systemd.rs does it: a
cgroup2 directory of its own under this script's cgroup, which a cgroup
namespace makes its root; a private mount namespace with a private cgroup2
mount and a tmpfs on /run/systemd holding /run/systemd/system; XDG_* dirs and
the bus in the temp dir. At exit (also on failure or Ctrl+C) the manager gets
SIGTERM, whatever is left in its cgroup subtree is killed and the subtree is
removed.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, HERE)
import bench  # noqa: E402  (bench/bench.py: build, stats, request, timed, memory, ...)
from bench import (log, run, timed, stats, loadavg, alive, memory, cpu_ticks, request,  # noqa: E402
                   start_daemon, stop_daemon, wait_gone, ratio, fmt, fmt_ratio, g)

ROOT = bench.ROOT
SYSTEMD = "/lib/systemd/systemd"
CLK_TCK = bench.CLK_TCK
UNIT_PATH_TAIL = "/usr/local/bin:/usr/bin:/bin"
# The properties intelmqd's `systemctl show` asks for (intelmqd/src/systemd.rs).
SHOW_PROPERTIES = ("Id,LoadState,ActiveState,SubState,Result,MainPID,NRestarts,ExecMainCode,"
                   "ExecMainStatus,ExecMainExitTimestamp,StateChangeTimestamp,UnitFileState")

# Run in the new mount and cgroup namespaces ($0 is systemd): a cgroup2 mount
# whose root is the manager's subtree, /run/systemd/system on a private tmpfs
# (over /run/systemd, or over /run where the machine has no /run/systemd),
# then the manager itself.
INNER_SCRIPT = r"""
mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1
if [ -d /run/systemd ]; then hidden=/run/systemd; else hidden=/run; fi
mount -t tmpfs -o mode=755 tmpfs "$hidden" || exit 1
mkdir -p /run/systemd/system || exit 1
exec "$0" --user --log-target=console --log-level=notice
"""

# Moves itself into the cgroup whose cgroup.procs is $1, then runs the inner
# script with $2 (systemd) in new mount and cgroup namespaces. Every step
# execs, so the pid of the spawned child is the manager's.
OUTER_SCRIPT = r"""
echo $$ > "$1" || exit 1
exec unshare --mount --cgroup --propagation private -- sh -c "$3" "$2"
"""


# ---------------------------------------------------------------- the manager

def own_cgroup_dir():
    """This process's cgroup2 directory (under /sys/fs/cgroup/unified on a
    hybrid machine, /sys/fs/cgroup on a pure cgroup2 one)."""
    hierarchy = None
    for d in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.isfile(os.path.join(d, "cgroup.procs")) and \
                os.path.isfile(os.path.join(d, "cgroup.subtree_control")):
            hierarchy = d
            break
    if hierarchy is None:
        raise RuntimeError("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
    with open("/proc/self/cgroup") as f:
        path = next((l.strip()[3:] for l in f if l.startswith("0::")), None)
    if path is None:
        raise RuntimeError("this process is in no cgroup2 cgroup (/proc/self/cgroup)")
    return os.path.join(hierarchy, path.lstrip("/"))


def cgroup_dirs(top):
    """The directories of a cgroup subtree, deepest first."""
    out = []
    for base, dirs, _ in os.walk(top):
        out.append(base)
    out.sort(key=lambda d: d.count("/"), reverse=True)
    return out


def cgroup_processes(top):
    pids = []
    for d in cgroup_dirs(top):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return pids


class UserManager:
    """An isolated `systemd --user` manager on `root` (see the module doc)."""

    def __init__(self, root):
        self.root = root
        self.runtime_dir = os.path.join(root, "xdg")
        self.config_home = os.path.join(root, "config")
        self.unit_dir = os.path.join(self.config_home, "systemd", "user")
        self.log_path = os.path.join(root, "manager.log")
        for d in (self.runtime_dir, self.unit_dir, os.path.join(root, "data"),
                  os.path.join(root, "state"), os.path.join(root, "home")):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.runtime_dir, 0o700)  # systemd refuses a runtime dir others may enter
        self.env = {
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "XDG_CONFIG_HOME": self.config_home,
            "XDG_DATA_HOME": os.path.join(root, "data"),
            "XDG_STATE_HOME": os.path.join(root, "state"),
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + os.path.join(self.runtime_dir, "bus"),
        }
        parent = own_cgroup_dir()
        i = 0
        while True:
            cg = os.path.join(parent, "intelmqd-bench-%d-%d" % (os.getpid(), i))
            try:
                os.mkdir(cg)
                break
            except FileExistsError:
                i += 1
        self.cgroup = cg
        self.proc = None

    def start(self):
        # Units get the manager's environment: only what is set here.
        env = dict(self.env, PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   HOME=os.path.join(self.root, "home"), USER="root", LOGNAME="root")
        logf = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            ["sh", "-c", OUTER_SCRIPT, "sh", os.path.join(self.cgroup, "cgroup.procs"), SYSTEMD, INNER_SCRIPT],
            env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            start_new_session=True)  # setsid: a Ctrl-C at the terminal is for this script
        private = os.path.join(self.runtime_dir, "systemd", "private")
        deadline = time.perf_counter() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("the user manager exited at start (%s); see %s:\n%s"
                                   % (self.proc.returncode, self.log_path, self.log_tail()))
            if os.path.exists(private):
                r = self.systemctl(["show", "--property=SystemState", "--value"], check=False)
                if r.returncode == 0 and r.stdout.strip() == "running":
                    break
            if time.perf_counter() > deadline:
                raise RuntimeError("the user manager is not running after 30 s:\n" + self.log_tail())
            time.sleep(0.02)
        self.ready_s = time.perf_counter() - t0
        return self

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def client_env(self, base=None):
        env = dict(base if base is not None else os.environ)
        env.update(self.env)
        env["SYSTEMD_COLORS"] = "0"
        return env

    def systemctl_cmd(self, args):
        return ["systemctl", "--user", "--no-pager"] + list(args)

    def systemctl(self, args, check=True, timeout=300):
        return run(self.systemctl_cmd(args), check=check, env=self.client_env(), timeout=timeout)

    def install_unit(self, name, text):
        with open(os.path.join(self.unit_dir, name), "w") as f:
            f.write(text)
        self.systemctl(["daemon-reload"])

    def shut_down(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the manager stops its units and exits
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.time() + 5
        while True:
            left = cgroup_processes(self.cgroup)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not left or time.time() > deadline:
                break
            time.sleep(0.05)
        if left:
            log("processes %s survived SIGKILL in %s" % (left, self.cgroup))
        for d in cgroup_dirs(self.cgroup):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                log("cannot remove the cgroup %s: %s" % (d, e))


# ---------------------------------------------------------------- the units

def bot_template_unit(config_dir, state_dir, log_dir, launcher, bindir):
    """contrib/systemd/intelmq-bot@.service for a user manager, rewritten as
    tests/src/systemd.rs's IntelmqDirs::bot_template_unit does: no User=/Group=,
    the paths pointed at the bench's dirs and the built launcher, wanted by
    default.target, the bench bot's dir on PATH. Each rewrite must find what it
    replaces."""
    with open(os.path.join(ROOT, "contrib", "systemd", "intelmq-bot@.service")) as f:
        text = f.read()
    for key in ("User", "Group"):
        kept = [l for l in text.splitlines() if not l.lstrip().startswith(key + "=")]
        if len(kept) == len(text.splitlines()):
            raise RuntimeError("intelmq-bot@.service has no %s= to remove" % key)
        text = "\n".join(kept) + "\n"
    for old, new in (("/usr/bin/intelmq-bot-launcher", launcher), ("/etc/intelmq", config_dir),
                     ("/run/intelmq", state_dir), ("/var/log/intelmq", log_dir),
                     ("WantedBy=multi-user.target", "WantedBy=default.target")):
        if old not in text:
            raise RuntimeError("intelmq-bot@.service no longer contains %r" % old)
        text = text.replace(old, new)
    # Environment=PATH=... at the end of [Service], before its blank lines.
    lines = text.splitlines()
    start = lines.index("[Service]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    at = end
    while at > start + 1 and not lines[at - 1].strip():
        at -= 1
    lines.insert(at, "Environment=PATH=%s:%s" % (bindir, UNIT_PATH_TAIL))
    return "\n".join(lines) + "\n"


def bot_ids(n):
    return ["bench-%04d" % i for i in range(n)]


def units(n):
    return ["intelmq-bot@%s.service" % b for b in bot_ids(n)]


def write_config(d, n, defaults):
    cfg, state, logd = (os.path.join(d, x) for x in ("etc", "state", "log"))
    for x in (cfg, state, logd):
        os.makedirs(x)
    with open(os.path.join(cfg, "runtime.conf"), "w") as f:
        json.dump({b: {"module": "benchbot", "botnet": True, "restart": "never"} for b in bot_ids(n)}, f)
    with open(os.path.join(cfg, "defaults.conf"), "w") as f:
        json.dump(defaults, f)
    with open(os.path.join(cfg, "pipeline.conf"), "w") as f:
        f.write("{}")
    return cfg, state, logd


def exe_is_bot(pid):
    """The process runs the bench bot (exec'd, not still the launcher)."""
    try:
        return os.readlink("/proc/%d/exe" % pid) == bench.BOT_EXE and alive(pid)
    except OSError:
        return False


def poll_all_running(check, t_start, what):
    """Polls `check()` (-> (all running?, pids)) until it says yes; returns the
    seconds since `t_start`, the pids and how many checks it took."""
    ok, pids = check()
    checks = 1
    while not ok:
        if time.perf_counter() - t_start > 120:
            raise RuntimeError(what + " after 120 s")
        time.sleep(0.005)
        ok, pids = check()
        checks += 1
    return time.perf_counter() - t_start, pids, checks


def wait_exec(pids, t_start, timeout=120):
    """Waits until every pid runs the bench bot; the time since t_start."""
    left = [p for p in pids if not exe_is_bot(p)]
    polls = 0
    while left:
        if time.perf_counter() - t_start > timeout:
            raise RuntimeError("%d bots not running the bench bot after %d s" % (len(left), timeout))
        time.sleep(0.002)
        polls += 1
        left = [p for p in left if not exe_is_bot(p)]
    return time.perf_counter() - t_start, polls


def child_ticks(pid):
    """cutime + cstime: CPU of the children `pid` has waited for (the
    daemon's systemctl calls)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[13]) + int(fields[14])


def cpu_split(calls, daemon_pid=None, manager_pid=None):
    """Starts a CPU account; the returned function gives the CPU a call of the
    series spent in the daemon, the daemon's children (systemctl), the
    manager and this script's children (the clients), in ms."""
    import resource
    d0 = cpu_ticks(daemon_pid) if daemon_pid else 0
    dc0 = child_ticks(daemon_pid) if daemon_pid else 0
    m0 = cpu_ticks(manager_pid) if manager_pid else 0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = ru.ru_utime + ru.ru_stime

    def done():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        per = lambda ticks: round(ticks * 1000.0 / CLK_TCK / calls, 2)
        out = {"calls": calls, "clients_ms": round((ru.ru_utime + ru.ru_stime - c0) * 1000.0 / calls, 2)}
        if daemon_pid:
            out["daemon_ms"] = per(cpu_ticks(daemon_pid) - d0)
            out["daemon_children_ms"] = per(child_ticks(daemon_pid) - dc0)
        if manager_pid:
            out["manager_ms"] = per(cpu_ticks(manager_pid) - m0)
        return out
    return done


def dbus_messages(cmd, env):
    """sendmsg/recvmsg/other syscalls of one run of cmd (strace -c -f), where
    strace is installed: systemctl makes D-Bus calls per unit."""
    if not shutil.which("strace"):
        return None
    r = run(["strace", "-f", "-c", "-e", "trace=sendmsg,recvmsg,ppoll,poll,connect"] + cmd,
            env=env, check=False)
    out = {}
    for line in r.stderr.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in ("sendmsg", "recvmsg", "ppoll", "poll", "connect"):
            try:
                out[parts[-1]] = int(parts[3])
            except ValueError:
                pass
    return out


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if s else None


def summarize_cycles(cycles):
    out = {"runs": cycles}
    for k in cycles[0]:
        if isinstance(cycles[0][k], (int, float)):
            out[k] = round(median([c[k] for c in cycles]), 4)
    return out


# ---------------------------------------------------------------- intelmqd, either mode

def daemon_status(sock, n):
    """(all running?, pids) from the daemon's status."""
    reply = request(sock, {"v": 1, "id": 1, "command": "status"})
    bots = reply["result"]["bots"]
    pids = [b.get("pid") for b in bots if b.get("status") == "running" and b.get("pid")]
    return len(bots) == n and len(pids) == n, pids


def bench_intelmqd(mode, tools, tmp, n, args, manager):
    d = os.path.join(tmp, "%s-%d" % (mode, n))
    defaults = {"stop_timeout": 5, "max_connections": 4096, "bot_user": "root"}
    if mode == "systemd":
        defaults.update({"process_manager": "systemd", "systemd_instance": "user"})
    else:
        defaults["process_manager"] = "pid"
    cfg, state, logd = write_config(d, n, defaults)
    sock = os.path.join(d, "intelmqd.sock")
    env = dict(os.environ, PATH=tools["bindir"] + ":" + os.environ.get("PATH", ""))
    for k in list(env):
        if k.startswith("INTELMQ_"):
            del env[k]
    if mode == "systemd":
        # the daemon's systemctl --user reaches the bench's manager
        env = manager.client_env(env)
        manager.install_unit("intelmq-bot@.service", bot_template_unit(
            cfg, state, logd, tools["launcher"], tools["bindir"]))
    ctl = [tools["intelmqctl"], "--socket", sock]
    daemon = start_daemon([tools["intelmqd"], "--config-dir", cfg, "--state-dir", state,
                           "--log-dir", logd, "--socket", sock], os.path.join(d, "intelmqd.log"), env)
    bench.CLEANUPS.append(lambda: run(ctl + ["stop"], check=False, env=env, timeout=300)
                          if daemon.poll() is None else None)
    bench.wait_ready(daemon, sock, os.path.join(d, "intelmqd.log"))
    res = {"daemon_pid": daemon.pid, "memory_before_start": memory(daemon.pid)}
    starts, stops = [], []
    bt = tools["benchtool"]
    for cycle in range(args.cycles):
        # 1. botnet start until every bot runs (daemon's status), then until
        #    each of those processes runs the bench bot (exec done)
        c0 = cpu_ticks(daemon.pid)
        m0 = cpu_ticks(manager.proc.pid) if mode == "systemd" else None
        took, r = timed(ctl + ["start"], env=env, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("intelmqctl start failed: %s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
        t_start = time.perf_counter() - took
        status_ok_s, pids, checks = poll_all_running(lambda: daemon_status(sock, n), t_start,
                                                     "not all bots running")
        all_s, polls = wait_exec(pids, t_start)
        start = {"command_s": round(took, 4), "status_all_running_s": round(status_ok_s, 4),
                 "all_running_s": round(all_s, 4), "status_checks": checks, "exec_polls": polls,
                 "daemon_cpu_s": round((cpu_ticks(daemon.pid) - c0) / CLK_TCK, 3)}
        if m0 is not None:
            start["manager_cpu_s"] = round((cpu_ticks(manager.proc.pid) - m0) / CLK_TCK, 3)
        starts.append(start)
        log("%s N=%d cycle %d: botnet start %.3f s (command %.3f s)" % (mode, n, cycle, all_s, took))
        if cycle == 0:
            res["memory_after_start"] = memory(daemon.pid)
            if mode == "systemd":
                res["manager_memory_running"] = memory(manager.proc.pid)
            # 2. status: whole client (--json), and raw round trips
            mpid = manager.proc.pid if mode == "systemd" else None
            acct = cpu_split(args.status_calls, daemon.pid, mpid)
            r = run([bt, "runs", str(args.status_calls), "--"] + ctl + ["--json", "status"], env=env)
            res["status_json_process"] = stats([int(x) for x in r.stdout.split()])
            res["status_json_cpu"] = acct()
            r = run([bt, "runs", str(args.status_calls), "--"] + ctl + ["status"], env=env)
            res["status_process"] = stats([int(x) for x in r.stdout.split()])
            acct = cpu_split(args.rtt_calls, daemon.pid, mpid)
            r = run([bt, "rtt", sock, str(args.rtt_calls), '{"v":1,"id":{id},"command":"status"}'])
            res["status_rtt"] = stats([int(x) for x in r.stdout.split()])
            res["status_rtt_cpu"] = acct()
            res["status_reply_bytes"] = int(r.stderr.strip().split("=")[1])
            r = run([bt, "rtt", sock, str(args.rtt_calls), '{"v":1,"id":{id},"command":"hello"}'])
            res["hello_rtt"] = stats([int(x) for x in r.stdout.split()])
            log("%s N=%d: status --json process median %.2f ms, status rtt median %.2f ms"
                % (mode, n, res["status_json_process"]["median_us"] / 1000, res["status_rtt"]["median_us"] / 1000))
            # 4. memory with N bots running, after the status calls
            res["memory"] = memory(daemon.pid)
        # 3. botnet stop until no bot process remains
        c0 = cpu_ticks(daemon.pid)
        took, r = timed(ctl + ["stop"], env=env, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("intelmqctl stop failed: %s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
        t0 = time.perf_counter() - took
        left = wait_gone(pids, 60)
        stop = {"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4),
                "left": len(left), "daemon_cpu_s": round((cpu_ticks(daemon.pid) - c0) / CLK_TCK, 3)}
        stops.append(stop)
        log("%s N=%d cycle %d: botnet stop %.3f s" % (mode, n, cycle, stop["all_gone_s"]))
        if left:
            raise RuntimeError("%d bots still there 60 s after the stop" % len(left))
    res["start"] = summarize_cycles(starts)
    res["stop"] = summarize_cycles(stops)
    res["memory_end"] = memory(daemon.pid)
    stop_daemon(daemon)
    return res


# ---------------------------------------------------------------- the floor: systemctl directly

def show_units(manager, n, props="Id,MainPID,ActiveState"):
    r = manager.systemctl(["show", "-p", props] + units(n))
    out, cur = [], {}
    for line in r.stdout.splitlines() + [""]:
        if not line.strip():
            if cur:
                out.append(cur)
            cur = {}
            continue
        k, _, v = line.partition("=")
        cur[k] = v
    return out


def direct_running(manager, n):
    shown = show_units(manager, n)
    pids = [int(u.get("MainPID", "0")) for u in shown if u.get("ActiveState") == "active"]
    pids = [p for p in pids if p]
    return len(shown) == n and len(pids) == n, pids


def parallel_calls(manager, verb, n):
    """N `systemctl --user <verb> <one unit>` processes at once, as the daemon
    runs them; wall time until the last returned."""
    env = manager.client_env()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(manager.systemctl_cmd(["--no-ask-password", "--quiet", verb, u]), env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for u in units(n)]
    errs = []
    for p in procs:
        _, e = p.communicate()
        if p.returncode != 0:
            errs.append(e.decode(errors="replace").strip())
    took = time.perf_counter() - t0
    if errs:
        raise RuntimeError("systemctl %s failed %d times: %s" % (verb, len(errs), errs[0]))
    return took


def bench_direct(tools, tmp, n, args, manager):
    d = os.path.join(tmp, "direct-%d" % n)
    cfg, state, logd = write_config(d, n, {"stop_timeout": 5, "process_manager": "systemd",
                                           "systemd_instance": "user", "bot_user": "root"})
    manager.install_unit("intelmq-bot@.service", bot_template_unit(
        cfg, state, logd, tools["launcher"], tools["bindir"]))
    env = manager.client_env()
    bt = tools["benchtool"]
    res = {"manager_memory_idle": memory(manager.proc.pid)}
    starts, stops, pstarts, pstops = [], [], [], []
    for cycle in range(args.cycles):
        m0 = cpu_ticks(manager.proc.pid)
        took, r = timed(manager.systemctl_cmd(["--no-ask-password", "--quiet", "start"] + units(n)),
                        env=env, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("systemctl start failed: %s" % r.stderr[-2000:])
        t_start = time.perf_counter() - took
        show_ok_s, pids, checks = poll_all_running(lambda: direct_running(manager, n), t_start,
                                                   "not all units active")
        all_s, polls = wait_exec(pids, t_start)
        starts.append({"command_s": round(took, 4), "status_all_running_s": round(show_ok_s, 4),
                       "all_running_s": round(all_s, 4), "status_checks": checks, "exec_polls": polls,
                       "manager_cpu_s": round((cpu_ticks(manager.proc.pid) - m0) / CLK_TCK, 3)})
        log("direct N=%d cycle %d: systemctl start (one call) %.3f s (command %.3f s)" % (n, cycle, all_s, took))
        if cycle == 0:
            res["manager_memory_running"] = memory(manager.proc.pid)
            # the status floor: the daemon's one `systemctl show` of the N units
            show = manager.systemctl_cmd(["--no-ask-password", "--quiet", "show", "--timestamp=unix",
                                          "-p", SHOW_PROPERTIES] + units(n))
            acct = cpu_split(args.status_calls, None, manager.proc.pid)
            r = run([bt, "runs", str(args.status_calls), "--"] + show, env=env)
            res["show_process"] = stats([int(x) for x in r.stdout.split()])
            res["show_cpu"] = acct()
            res["show_reply_bytes"] = len(run(show, env=env).stdout)
            # where the time of one show goes: one unit, and all properties
            one = manager.systemctl_cmd(["--no-ask-password", "--quiet", "show", "--timestamp=unix",
                                         "-p", SHOW_PROPERTIES, units(1)[0]])
            acct = cpu_split(args.status_calls, None, manager.proc.pid)
            r = run([bt, "runs", str(args.status_calls), "--"] + one, env=env)
            res["show_one_unit_process"] = stats([int(x) for x in r.stdout.split()])
            res["show_one_unit_cpu"] = acct()
            res["show_syscalls"] = dbus_messages(show, env)
            res["show_one_unit_syscalls"] = dbus_messages(one, env)
            r = run([bt, "runs", str(max(5, args.status_calls // 5)), "--"]
                    + manager.systemctl_cmd(["show"] + units(n)), env=env)
            res["show_all_properties_process"] = stats([int(x) for x in r.stdout.split()])
            r = run([bt, "runs", str(args.status_calls), "--", "systemctl", "--version"], env=env)
            res["systemctl_version_process"] = stats([int(x) for x in r.stdout.split()])
            log("direct N=%d: systemctl show of %d units median %.2f ms (one unit %.2f ms)"
                % (n, n, res["show_process"]["median_us"] / 1000, res["show_one_unit_process"]["median_us"] / 1000))
        m0 = cpu_ticks(manager.proc.pid)
        took, r = timed(manager.systemctl_cmd(["--no-ask-password", "--quiet", "stop"] + units(n)),
                        env=env, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("systemctl stop failed: %s" % r.stderr[-2000:])
        t0 = time.perf_counter() - took
        left = wait_gone(pids, 60)
        stops.append({"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4),
                      "left": len(left), "manager_cpu_s": round((cpu_ticks(manager.proc.pid) - m0) / CLK_TCK, 3)})
        log("direct N=%d cycle %d: systemctl stop (one call) %.3f s" % (n, cycle, stops[-1]["all_gone_s"]))
        # N concurrent one-unit calls, as the daemon makes them
        took = parallel_calls(manager, "start", n)
        t_start = time.perf_counter() - took
        ok, pids = direct_running(manager, n)
        while not ok:
            if time.perf_counter() - t_start > 120:
                raise RuntimeError("not all units active after 120 s")
            time.sleep(0.005)
            ok, pids = direct_running(manager, n)
        all_s, _ = wait_exec(pids, t_start)
        pstarts.append({"command_s": round(took, 4), "all_running_s": round(all_s, 4)})
        took = parallel_calls(manager, "stop", n)
        t0 = time.perf_counter() - took
        left = wait_gone(pids, 60)
        pstops.append({"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4),
                       "left": len(left)})
        log("direct N=%d cycle %d: %d concurrent calls: start %.3f s, stop %.3f s"
            % (n, cycle, n, all_s, pstops[-1]["all_gone_s"]))
    res["start"] = summarize_cycles(starts)
    res["stop"] = summarize_cycles(stops)
    res["start_concurrent_calls"] = summarize_cycles(pstarts)
    res["stop_concurrent_calls"] = summarize_cycles(pstops)
    return res


# ---------------------------------------------------------------- report

def rows_for(res, n):
    k = str(n)
    p, s, f = g(res, "pid", k), g(res, "systemd", k), g(res, "direct", k)
    ms = lambda x: None if x is None else x / 1000
    mib = lambda x: None if x is None else x / 1024
    return [
        ("botnet start, until all running (floor: one systemctl start)", "s",
         g(p, "start", "all_running_s"), g(s, "start", "all_running_s"), g(f, "start", "all_running_s")),
        ("botnet start, command returned", "s",
         g(p, "start", "command_s"), g(s, "start", "command_s"), g(f, "start", "command_s")),
        ("botnet start (floor: N concurrent systemctl start)", "s",
         g(p, "start", "all_running_s"), g(s, "start", "all_running_s"),
         g(f, "start_concurrent_calls", "all_running_s")),
        ("status --json, whole client, median (floor: systemctl show)", "ms",
         ms(g(p, "status_json_process", "median_us")), ms(g(s, "status_json_process", "median_us")),
         ms(g(f, "show_process", "median_us"))),
        ("status --json, whole client, p99", "ms",
         ms(g(p, "status_json_process", "p99_us")), ms(g(s, "status_json_process", "p99_us")),
         ms(g(f, "show_process", "p99_us"))),
        ("status (table), whole client, median", "ms",
         ms(g(p, "status_process", "median_us")), ms(g(s, "status_process", "median_us")),
         ms(g(f, "show_process", "median_us"))),
        ("status, raw round trip, median", "ms",
         ms(g(p, "status_rtt", "median_us")), ms(g(s, "status_rtt", "median_us")),
         ms(g(f, "show_process", "median_us"))),
        ("status, raw round trip, p99", "ms",
         ms(g(p, "status_rtt", "p99_us")), ms(g(s, "status_rtt", "p99_us")), ms(g(f, "show_process", "p99_us"))),
        ("botnet stop, until none remains (floor: one systemctl stop)", "s",
         g(p, "stop", "all_gone_s"), g(s, "stop", "all_gone_s"), g(f, "stop", "all_gone_s")),
        ("botnet stop (floor: N concurrent systemctl stop)", "s",
         g(p, "stop", "all_gone_s"), g(s, "stop", "all_gone_s"), g(f, "stop_concurrent_calls", "all_gone_s")),
        ("daemon RSS, N bots running", "MiB",
         mib(g(p, "memory", "rss_kib")), mib(g(s, "memory", "rss_kib")), None),
        ("systemd --user RSS, N units running", "MiB",
         None, mib(g(s, "manager_memory_running", "rss_kib")), mib(g(f, "manager_memory_running", "rss_kib"))),
    ]


def cpu_text(c):
    if not c:
        return "-"
    parts = [("client", c.get("clients_ms")), ("daemon", c.get("daemon_ms")),
             ("its systemctl", c.get("daemon_children_ms")), ("manager", c.get("manager_ms"))]
    return ", ".join("%s %.1f" % (k, v) for k, v in parts if v is not None)


def sys_text(c):
    if not c:
        return ""
    return "%d sendmsg, %d recvmsg" % (c.get("sendmsg", 0), c.get("recvmsg", 0))


def diag_rows(res, n):
    """Where a systemd-mode status spends its time: the daemon's status
    against systemctl alone, with the CPU each spends per call."""
    k = str(n)
    p, s, f = g(res, "pid", k), g(res, "systemd", k), g(res, "direct", k)
    ms = lambda x: "-" if x is None else "%.2f ms" % (x / 1000)
    return [
        ("intelmqd PID mode: status, raw round trip", ms(g(p, "status_rtt", "median_us")),
         ms(g(p, "status_rtt", "p99_us")), cpu_text(g(p, "status_rtt_cpu")), ""),
        ("intelmqd systemd mode: status, raw round trip", ms(g(s, "status_rtt", "median_us")),
         ms(g(s, "status_rtt", "p99_us")), cpu_text(g(s, "status_rtt_cpu")), ""),
        ("intelmqd systemd mode: intelmqctl --json status", ms(g(s, "status_json_process", "median_us")),
         ms(g(s, "status_json_process", "p99_us")), cpu_text(g(s, "status_json_cpu")), ""),
        ("systemctl show, %d units, the daemon's 12 properties" % n, ms(g(f, "show_process", "median_us")),
         ms(g(f, "show_process", "p99_us")), cpu_text(g(f, "show_cpu")),
         "%s bytes; %s" % (g(f, "show_reply_bytes"), sys_text(g(f, "show_syscalls")))),
        ("systemctl show, 1 unit, the daemon's 12 properties", ms(g(f, "show_one_unit_process", "median_us")),
         ms(g(f, "show_one_unit_process", "p99_us")), cpu_text(g(f, "show_one_unit_cpu")),
         sys_text(g(f, "show_one_unit_syscalls"))),
        ("systemctl show, %d units, all properties" % n, ms(g(f, "show_all_properties_process", "median_us")),
         ms(g(f, "show_all_properties_process", "p99_us")), "", ""),
        ("systemctl --version (process start only)", ms(g(f, "systemctl_version_process", "median_us")),
         ms(g(f, "systemctl_version_process", "p99_us")), "", ""),
    ]


def render(rows, hdr):
    widths = [max(len(r[c]) for r in rows + [hdr]) for c in range(len(hdr))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return out


def table(res):
    m = res["machine"]
    lines = ["machine: %d cores (%s), %s, %s; load before %s, after %s; %s" % (
        m["nproc"], m["cpu"], m["kernel"], res["versions"].get("systemd", "?"),
        " ".join("%.2f" % x for x in m["load_before"]),
        " ".join("%.2f" % x for x in m.get("load_after", [])), res["date"])]
    lines.append("load (1/5/15 min) when each N began: " + "; ".join(
        "N=%s: %s" % (k, " ".join("%.2f" % x for x in v)) for k, v in m.get("load_during", {}).items()))
    lines.append("start/stop: median of %d cycles; status: %d whole-client runs, %d raw round trips"
                 % (res["config"]["cycles"], res["config"]["status_calls"], res["config"]["rtt_calls"]))
    hdr = ("N", "figure", "PID mode", "systemd mode", "systemctl direct", "sd/PID", "sd/direct")
    out = []
    for n in res["config"]["n"]:
        for name, unit, p, s, f in rows_for(res, n):
            out.append((str(n), name, fmt(p, unit), fmt(s, unit), fmt(f, unit),
                        fmt_ratio(ratio(s, p)), fmt_ratio(ratio(s, f))))
    lines += render(out, hdr)
    lines.append("")
    lines.append("where a systemd-mode status spends its time (CPU: ms per call, whole series / calls):")
    dout = []
    for n in res["config"]["n"]:
        for row in diag_rows(res, n):
            dout.append((str(n),) + row)
    lines += render(dout, ("N", "what", "median", "p99", "CPU per call (ms)", "notes"))
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100", help="bot counts, comma separated (default 100; e.g. 20,100,300)")
    ap.add_argument("--cycles", type=int, default=3, help="start/stop cycles a mode, median taken (default 3)")
    ap.add_argument("--status-calls", type=int, default=50, help="whole-process status runs (default 50)")
    ap.add_argument("--rtt-calls", type=int, default=200, help="raw status round trips (default 200)")
    ap.add_argument("--skip", default="", help="comma separated: pid,systemd,direct")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release binaries")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--out", help="JSON file (default bench/results/systemd-<date>.json)")
    args = ap.parse_args()
    n_list = [int(x) for x in args.n.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    if os.geteuid() != 0:
        sys.exit("systemd_mode.py needs root (new namespaces and a cgroup for the user manager)")
    if not os.path.isfile(SYSTEMD):
        sys.exit("%s missing (apt-get install systemd dbus dbus-user-session)" % SYSTEMD)

    t_begin = time.perf_counter()
    now = datetime.datetime.now()
    res = {"date": now.strftime("%Y-%m-%d %H:%M:%S"), "config": {
        "n": n_list, "cycles": args.cycles, "status_calls": args.status_calls, "rtt_calls": args.rtt_calls}}
    res["machine"] = {"nproc": os.cpu_count(), "load_before": loadavg(), "kernel": platform.release(),
                      "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                   if l.startswith("model name")), "?"), "clk_tck": CLK_TCK}
    log(res["machine"])

    # short: the manager's sockets live under it (108-byte limit)
    tmp = tempfile.mkdtemp(prefix="imqsdb-", dir="/tmp")
    os.chmod(tmp, 0o755)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    manager = None
    try:
        tools = bench.build(args, tmp)
        tools["launcher"] = os.path.join(ROOT, "target", "release", "intelmq-bot-launcher")
        if not os.access(tools["launcher"], os.X_OK):
            raise RuntimeError("%s missing: build first (drop --no-build)" % tools["launcher"])
        bench.BOT_EXE = tools["benchbot"]
        res["versions"] = {"intelmqd": run([tools["intelmqd"], "--version"]).stdout.strip(),
                           "intelmqd_built": datetime.datetime.fromtimestamp(
                               os.path.getmtime(tools["intelmqd"])).strftime("%Y-%m-%d %H:%M:%S"),
                           "systemd": run(["systemctl", "--version"]).stdout.splitlines()[0]}
        manager = UserManager(os.path.join(tmp, "m"))
        # registered first, so it runs after the daemons' cleanups
        bench.CLEANUPS.append(manager.shut_down)
        manager.start()
        res["manager"] = {"ready_s": round(manager.ready_s, 3), "cgroup": manager.cgroup,
                          "memory_at_start": memory(manager.proc.pid)}
        log("user manager pid %d ready in %.2f s, cgroup %s" % (manager.proc.pid, manager.ready_s, manager.cgroup))
        res["pid"], res["systemd"], res["direct"] = {}, {}, {}
        res["machine"]["load_during"] = {}
        for n in n_list:
            res["machine"]["load_during"][str(n)] = loadavg()
            if "pid" not in skip:
                res["pid"][str(n)] = bench_intelmqd("pid", tools, tmp, n, args, manager)
            if "systemd" not in skip:
                res["systemd"][str(n)] = bench_intelmqd("systemd", tools, tmp, n, args, manager)
            if "direct" not in skip:
                res["direct"][str(n)] = bench_direct(tools, tmp, n, args, manager)
    finally:
        bench.cleanup()
        if manager is not None and args.keep:
            log("manager log:", manager.log_path)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept", tmp)
    res["machine"]["load_after"] = loadavg()
    res["total_s"] = round(time.perf_counter() - t_begin, 1)
    text = table(res)
    print(text)
    print("total %.0f s" % res["total_s"])
    out = args.out or os.path.join(HERE, "results", "systemd-" + now.strftime("%Y-%m-%dT%H%M%S") + ".json")
    bench.write_results(res, text, out)


if __name__ == "__main__":
    main()
