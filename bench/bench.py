#!/usr/bin/env python3
"""The intelmqd benchmark: intelmqd/intelmqctl against supervisord and IntelMQ's
own intelmqctl, for N bots, with native floors. Run it as `bench/run.sh`; see
bench/README.md for what each figure means.

Python standard library only. The timed parts are native (benchtool, compiled
from bench/src/benchtool.rs) except where a whole command is timed from here
(botnet start/stop: perf_counter around the client process).
"""

import argparse
import datetime
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUPERVISOR_VERSION = "4.3.0"
INTELMQ_VERSION = "3.5.0"
CLK_TCK = os.sysconf("SC_CLK_TCK")

STARTED = []          # Popen objects of daemons we started (daemons, echo server)
CLEANUPS = []         # callables run at exit, last registered first
BOT_EXE = None        # path of our benchbot; any process running it is ours


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers

def run(cmd, check=True, capture=True, env=None, cwd=None, timeout=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, text=True, env=env, cwd=cwd, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd),
                                                            r.stdout or "", r.stderr or ""))
    return r


def timed(cmd, env=None, timeout=None):
    """Wall time of a whole client process, in seconds, and its result."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       text=True, env=env, timeout=timeout)
    return time.perf_counter() - t0, r


def stats(samples_ns):
    s = sorted(samples_ns)
    n = len(s)

    def rank(p):  # nearest-rank percentile
        return s[max(0, min(n - 1, -(-p * n // 100) - 1))]
    return {"n": n, "median_us": round(rank(50) / 1000, 1), "p99_us": round(rank(99) / 1000, 1),
            "min_us": round(s[0] / 1000, 1), "max_us": round(s[-1] / 1000, 1)}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def proc_state(pid):
    """The one-letter state of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rindex(")") + 2]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15), all threads


def ctxt_switches(pid):
    """{tid: voluntary + nonvoluntary context switches} of every thread."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                n = 0
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
            out[tid] = n
        except FileNotFoundError:
            pass
    return out


def memory(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return {"rss_kib": out["VmRSS"], "hwm_kib": out["VmHWM"], "threads": out["Threads"]}


def idle(pid, seconds):
    """CPU ticks (utime+stime of the whole process, ended threads included) and
    context switches (each a sleep-wakeup) of `pid` over `seconds` of doing
    nothing to it. Context switches are counted per thread: threads that
    ended in the window (tokio's blocking-pool threads end 10 s after their
    last job) are counted apart, as `threads_ended`."""
    time.sleep(1.0)  # let the last client's effects settle
    t0, c0 = cpu_ticks(pid), ctxt_switches(pid)
    time.sleep(seconds)
    t1, c1 = cpu_ticks(pid), ctxt_switches(pid)
    ticks = t1 - t0
    switches = sum(c1[t] - c0.get(t, 0) for t in c1)
    return {"seconds": seconds, "ticks": ticks, "cpu_s": round(ticks / CLK_TCK, 3),
            "ctxt_switches": switches, "threads": len(c1),
            "threads_ended": len([t for t in c0 if t not in c1]),
            "threads_new": len([t for t in c1 if t not in c0])}


def our_bot_pids():
    """Every live process running our benchbot binary (found by /proc/*/exe)."""
    pids = []
    if not BOT_EXE:
        return pids
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d) == BOT_EXE and alive(int(d)):
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def wait_gone(pids, timeout):
    deadline = time.perf_counter() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.perf_counter() < deadline:
        time.sleep(0.002)
        left = [p for p in left if alive(p)]
    return left


def cleanup():
    while CLEANUPS:
        fn = CLEANUPS.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning
            log("cleanup step failed:", e)
    for p in STARTED:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in STARTED:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    left = our_bot_pids()
    if left:
        log("killing %d leftover bot processes" % len(left))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(left, 10)


def start_daemon(cmd, logfile, env=None):
    f = open(logfile, "ab")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=env,
                         start_new_session=True)
    STARTED.append(p)
    return p


def stop_daemon(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------------------------------------------------------------- building

def build(args, tmp):
    out = {}
    if not args.no_build:
        log("cargo build --release --workspace --bins")
        t0 = time.perf_counter()
        r = subprocess.run(["cargo", "build", "--release", "--workspace", "--bins"], cwd=ROOT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("cargo build failed")
        out["cargo_build_s"] = round(time.perf_counter() - t0, 1)
    rel = os.path.join(ROOT, "target", "release")
    out["intelmqd"] = os.path.join(rel, "intelmqd")
    out["intelmqctl"] = os.path.join(rel, "intelmqctl")
    for k in ("intelmqd", "intelmqctl"):
        if not os.access(out[k], os.X_OK):
            raise RuntimeError("%s missing: build first (drop --no-build)" % out[k])
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.chmod(bindir, 0o755)
    out["bindir"] = bindir
    out["benchbot"] = os.path.join(bindir, "benchbot")
    run(["gcc", "-O2", "-o", out["benchbot"], os.path.join(HERE, "src", "benchbot.c")])
    out["benchtool"] = os.path.join(bindir, "benchtool")
    run(["rustc", "-O", "--edition", "2021", "-o", out["benchtool"],
         os.path.join(HERE, "src", "benchtool.rs")], cwd=tmp)
    # For IntelMQ's intelmqctl: a module whose command line reads
    # `<benchbot> <bindir>/benchbot-module <bot_id>`, as its status check wants
    # (argv[1] ends with /<module>, argv[2] is the bot id): a `#!` script run by
    # the same benchbot binary.
    script = os.path.join(bindir, "benchbot-module")
    with open(script, "w") as f:
        f.write("#!%s\n" % out["benchbot"])
    os.chmod(script, 0o755)
    out["benchbot_module"] = "benchbot-module"
    return out


def venv(cache, name, requirement, check_import):
    """A venv under the cache dir with `requirement` installed (once)."""
    path = os.path.join(cache, name)
    marker = os.path.join(path, ".installed-" + requirement.replace("=", "-"))
    if os.path.exists(marker):
        return path
    # Debian's python: a venv made from a Python under /root cannot be read by
    # the `intelmq` user that IntelMQ's intelmqctl drops to.
    base = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    log("installing %s into %s (from PyPI)" % (requirement, path))
    shutil.rmtree(path, ignore_errors=True)
    run([base, "-m", "venv", path])
    run([os.path.join(path, "bin", "pip"), "install", "--disable-pip-version-check", "-q", requirement])
    run([os.path.join(path, "bin", "python"), "-c", "import " + check_import])
    open(marker, "w").close()
    return path


# ---------------------------------------------------------------- floors

def floors(tools, tmp, n_list, args):
    bt = tools["benchtool"]
    out = {"spawn": {}, "spawn_setsid": {}}
    for n in n_list:
        for key, extra in (("spawn", []), ("spawn_setsid", ["setsid"])):
            vals = []
            for _ in range(args.floor_repeats):
                r = run([bt, "spawn-floor", tools["benchbot"], str(n)] + extra)
                vals.append(int(r.stdout.strip()))
            vals.sort()
            out[key][str(n)] = {"median_s": round(vals[len(vals) // 2] / 1e9, 4),
                                "runs_s": [round(v / 1e9, 4) for v in vals]}
    sock = os.path.join(tmp, "echo.sock")
    start_daemon([bt, "echo-server", sock], os.path.join(tmp, "echo.log"))
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    hello = '{"v":1,"id":1,"command":"hello"}'
    r = run([bt, "rtt", sock, str(args.rtt_calls), hello])
    out["socket_rtt"] = stats([int(x) for x in r.stdout.split()])
    r = run([bt, "runs", str(args.status_calls), "--", bt, "oneshot", sock, hello])
    out["trivial_client_process"] = stats([int(x) for x in r.stdout.split()])
    r = run([bt, "runs", str(args.status_calls), "--", tools["benchbot"], "--exit"])
    out["trivial_process"] = stats([int(x) for x in r.stdout.split()])
    return out


# ---------------------------------------------------------------- intelmqd

def write_results(res, text, out):
    """Writes the results, with the printed table, as JSON to `out`."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    res["table"] = text.splitlines()
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("results written to", out)


def wait_ready(daemon, sock, logfile):
    """Waits until intelmqd answers `hello` (at most 20 s)."""
    deadline = time.time() + 20
    while True:
        try:
            if request(sock, {"v": 1, "id": 1, "command": "hello"}, timeout=5)["ok"]:
                return
        except (OSError, ValueError):
            pass
        if time.time() > deadline or daemon.poll() is not None:
            raise RuntimeError("intelmqd did not become ready; see " + logfile)
        time.sleep(0.02)


def request(sock_path, req, timeout=60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def ours_running(sock_path, n):
    """(all running?, pids) from the daemon's status and /proc."""
    reply = request(sock_path, {"v": 1, "id": 1, "command": "status"})
    bots = reply["result"]["bots"]
    pids = [b.get("pid") for b in bots if b.get("status") == "running" and b.get("pid")]
    return len(bots) == n and len(pids) == n and all(alive(p) for p in pids), pids


def bench_ours(tools, tmp, n, args):
    d = os.path.join(tmp, "ours-%d" % n)
    cfg, state, logd = (os.path.join(d, x) for x in ("etc", "state", "log"))
    for x in (cfg, state, logd):
        os.makedirs(x)
    with open(os.path.join(cfg, "runtime.conf"), "w") as f:
        json.dump({"bench-%04d" % i: {"module": "benchbot", "botnet": True, "restart": "never"}
                   for i in range(n)}, f)
    with open(os.path.join(cfg, "defaults.conf"), "w") as f:
        json.dump({"stop_timeout": 5, "max_connections": 4096}, f)
    with open(os.path.join(cfg, "pipeline.conf"), "w") as f:
        f.write("{}")
    sock = os.path.join(d, "intelmqd.sock")
    env = dict(os.environ, PATH=tools["bindir"] + ":" + os.environ.get("PATH", ""))
    env.pop("INTELMQ_SOCKET", None)
    ctl = [tools["intelmqctl"], "--socket", sock]
    daemon = start_daemon([tools["intelmqd"], "--config-dir", cfg, "--state-dir", state,
                           "--log-dir", logd, "--socket", sock], os.path.join(d, "intelmqd.log"), env)
    CLEANUPS.append(lambda: run(ctl + ["stop"], check=False, timeout=120) if daemon.poll() is None else None)
    wait_ready(daemon, sock, os.path.join(d, "intelmqd.log"))
    res = {"daemon_pid": daemon.pid, "memory_before_start": memory(daemon.pid)}

    # 1. botnet start until every bot runs
    took, r = timed(ctl + ["start"], env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("intelmqctl start failed: %s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    t_start = time.perf_counter() - took
    ok, pids = ours_running(sock, n)
    checks = 1
    while not ok:
        time.sleep(0.005)
        ok, pids = ours_running(sock, n)
        checks += 1
        if time.perf_counter() - t_start > 120:
            raise RuntimeError("not all bots running after 120 s")
    res["start"] = {"command_s": round(took, 4),
                    "all_running_s": round(took if checks == 1 else time.perf_counter() - t_start, 4),
                    "checks": checks}
    log("ours N=%d: botnet start %.3f s" % (n, res["start"]["all_running_s"]))
    res["memory_after_start"] = memory(daemon.pid)

    # 4b. idle CPU with N bots running
    res["idle"] = idle(daemon.pid, args.idle)
    log("ours N=%d: idle %s" % (n, res["idle"]))

    # 2. status: whole client process, human table and --json
    bt = tools["benchtool"]
    r = run([bt, "runs", str(args.status_calls), "--"] + ctl + ["status"], env=env)
    res["status_process"] = stats([int(x) for x in r.stdout.split()])
    r = run([bt, "runs", str(args.status_calls), "--"] + ctl + ["--json", "status"], env=env)
    res["status_json_process"] = stats([int(x) for x in r.stdout.split()])
    # raw protocol round trips on one persistent connection
    r = run([bt, "rtt", sock, str(args.rtt_calls), '{"v":1,"id":{id},"command":"status"}'])
    res["status_rtt"] = stats([int(x) for x in r.stdout.split()])
    res["status_reply_bytes"] = int(r.stderr.strip().split("=")[1])
    r = run([bt, "rtt", sock, str(args.rtt_calls), '{"v":1,"id":{id},"command":"hello"}'])
    res["hello_rtt"] = stats([int(x) for x in r.stdout.split()])
    log("ours N=%d: status process median %.0f us, status rtt median %.0f us"
        % (n, res["status_process"]["median_us"], res["status_rtt"]["median_us"]))
    # 4a. memory with N bots running, after the status calls
    res["memory"] = memory(daemon.pid)

    # 3. botnet stop until no bot process remains
    took, r = timed(ctl + ["stop"], env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("intelmqctl stop failed: %s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    t0 = time.perf_counter() - took
    left = wait_gone(pids, 60)
    res["stop"] = {"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4),
                   "left": len(left)}
    log("ours N=%d: botnet stop %.3f s" % (n, res["stop"]["all_gone_s"]))
    stop_daemon(daemon)
    return res


# ---------------------------------------------------------------- supervisord

def supervisor_status(ctl):
    r = run(ctl + ["status"], check=False)
    rows = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("bench-"):
            pid = None
            if parts[1] == "RUNNING" and len(parts) >= 4 and parts[2] == "pid":
                pid = int(parts[3].rstrip(","))
            rows[parts[0]] = (parts[1], pid)
    return rows


def supervisord_up(tools, tmp, n, args, venv_path, startsecs, tag=""):
    """A supervisord with N programs (autostart=false), up and answering."""
    d = os.path.join(tmp, "supervisord-%d%s" % (n, tag))
    logd = os.path.join(d, "log")
    os.makedirs(logd)
    sock = os.path.join(d, "supervisor.sock")
    conf = os.path.join(d, "supervisord.conf")
    with open(conf, "w") as f:
        f.write("[unix_http_server]\nfile=%s\n\n" % sock)
        f.write("[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n"
                "childlogdir=%s\nminfds=%d\nminprocs=%d\n\n" % (d, d, logd, 4 * n + 256, 2 * n + 256))
        f.write("[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
        f.write("[supervisorctl]\nserverurl=unix://%s\n\n" % sock)
        for i in range(n):
            f.write("[program:bench-%04d]\ncommand=%s bench-%04d\nautostart=false\nautorestart=false\n"
                    "startsecs=%d\nstopwaitsecs=5\nredirect_stderr=true\n"
                    "stdout_logfile=%s/%%(program_name)s.log\n\n"
                    % (i, tools["benchbot"], i, startsecs, logd))
    binp = os.path.join(venv_path, "bin")
    ctl = [os.path.join(binp, "supervisorctl"), "-c", conf]
    daemon = start_daemon([os.path.join(binp, "supervisord"), "-c", conf], os.path.join(d, "stdout.log"))
    CLEANUPS.append(lambda: run(ctl + ["stop", "all"], check=False, timeout=300) if daemon.poll() is None else None)
    deadline = time.time() + 60
    while run(ctl + ["pid"], check=False).returncode != 0:
        if time.time() > deadline or daemon.poll() is not None:
            raise RuntimeError("supervisord did not become ready; see " + d)
        time.sleep(0.05)
    return d, sock, ctl, daemon


def supervisord_start(ctl, n):
    """`supervisorctl start all` until all RUNNING and each pid exists."""
    took, r = timed(ctl + ["start", "all"], timeout=600)
    t_start = time.perf_counter() - took
    rows = supervisor_status(ctl)
    checks = 1
    while not (len(rows) == n and all(s == "RUNNING" and p and alive(p) for s, p in rows.values())):
        time.sleep(0.05)
        rows = supervisor_status(ctl)
        checks += 1
        if time.perf_counter() - t_start > 300:
            raise RuntimeError("supervisord: not all RUNNING after 300 s")
    pids = [p for _, p in rows.values()]
    return {"command_s": round(took, 4),
            "all_running_s": round(took if checks == 1 else time.perf_counter() - t_start, 4),
            "checks": checks}, pids


def supervisord_stop(ctl, pids):
    took, r = timed(ctl + ["stop", "all"], timeout=600)
    t0 = time.perf_counter() - took
    left = wait_gone(pids, 60)
    return {"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4), "left": len(left)}


def bench_supervisord_default_startsecs(tools, tmp, n, args, venv_path):
    d, sock, ctl, daemon = supervisord_up(tools, tmp, n, args, venv_path, 1, "-startsecs1")
    res = {"startsecs": 1}
    res["start"], pids = supervisord_start(ctl, n)
    res["stop"] = supervisord_stop(ctl, pids)
    log("supervisord N=%d startsecs=1: start all %.3f s" % (n, res["start"]["all_running_s"]))
    stop_daemon(daemon)
    return res


def bench_supervisord(tools, tmp, n, args, venv_path):
    d, sock, ctl, daemon = supervisord_up(tools, tmp, n, args, venv_path, args.startsecs)
    res = {"daemon_pid": daemon.pid, "startsecs": args.startsecs, "memory_before_start": memory(daemon.pid)}
    res["start"], pids = supervisord_start(ctl, n)
    log("supervisord N=%d: start all %.3f s" % (n, res["start"]["all_running_s"]))
    res["memory_after_start"] = memory(daemon.pid)
    res["idle"] = idle(daemon.pid, args.idle)
    log("supervisord N=%d: idle %s" % (n, res["idle"]))

    bt = tools["benchtool"]
    one, _ = timed(ctl + ["status"])
    calls = max(args.min_calls_theirs, min(args.status_calls, int(args.theirs_budget / max(one, 1e-3))))
    r = run([bt, "runs", str(calls), "--"] + ctl + ["status"])
    res["status_process"] = stats([int(x) for x in r.stdout.split()])
    # XML-RPC on one persistent HTTP/1.1 connection: getAllProcessInfo (the
    # status of all) and getState (the `hello`)
    for key, method in (("status_rtt", "supervisor.getAllProcessInfo"), ("hello_rtt", "supervisor.getState")):
        body = ("<?xml version='1.0'?><methodCall><methodName>%s</methodName><params></params>"
                "</methodCall>" % method).encode()
        reqf = os.path.join(d, key + ".http")
        with open(reqf, "wb") as f:
            f.write(b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
        if key == "status_rtt":
            r = run([bt, "rtt-http", sock, "3", reqf])
            one = max(int(x) for x in r.stdout.split()) / 1e9
            calls = max(50, min(args.rtt_calls, int(args.theirs_budget / max(one, 1e-4))))
        else:
            calls = args.rtt_calls
        r = run([bt, "rtt-http", sock, str(calls), reqf])
        res[key] = stats([int(x) for x in r.stdout.split()])
        if key == "status_rtt":
            res["status_reply_bytes"] = int(r.stderr.strip().split("=")[1])
    log("supervisord N=%d: status process median %.0f us (%d calls), status rtt median %.0f us"
        % (n, res["status_process"]["median_us"], res["status_process"]["n"], res["status_rtt"]["median_us"]))
    res["memory"] = memory(daemon.pid)

    res["stop"] = supervisord_stop(ctl, pids)
    log("supervisord N=%d: stop all %.3f s" % (n, res["stop"]["all_gone_s"]))
    stop_daemon(daemon)
    return res


# ---------------------------------------------------------------- IntelMQ's intelmqctl

def bench_intelmq(tools, tmp, n, args, venv_path):
    d = os.path.join(tmp, "intelmq-%d" % n)
    etc, run_d = os.path.join(d, "etc"), os.path.join(d, "var", "run")
    for x in (etc, run_d, os.path.join(d, "var", "log"), os.path.join(d, "var", "lib", "bots")):
        os.makedirs(x)
    site = run([os.path.join(venv_path, "bin", "python"), "-c",
                "import intelmq, os; print(os.path.dirname(intelmq.__file__))"]).stdout.strip()
    shutil.copy(os.path.join(site, "etc", "harmonization.conf"), etc)
    with open(os.path.join(etc, "runtime.yaml"), "w") as f:
        f.write("global:\n  destination_pipeline_broker: redis\n  source_pipeline_broker: redis\n")
        for i in range(n):
            f.write("bench-%04d:\n  bot_id: bench-%04d\n  module: %s\n  name: bench %d\n  group: Expert\n"
                    "  groupname: experts\n  enabled: true\n  run_mode: continuous\n  parameters: {}\n"
                    % (i, i, tools["benchbot_module"], i))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("intelmq")
        for base, dirs, files in os.walk(d):
            for x in [base] + [os.path.join(base, y) for y in files]:
                os.chown(x, pw.pw_uid, pw.pw_gid)
    env = dict(os.environ, INTELMQ_ROOT_DIR=d,
               PATH=tools["bindir"] + ":" + os.path.join(venv_path, "bin") + ":" + os.environ.get("PATH", ""))
    ctl = [os.path.join(venv_path, "bin", "intelmqctl")]

    def pids_from_files():
        out = []
        for name in os.listdir(run_d):
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(run_d, name)) as f:
                        out.append(int(f.read().strip()))
                except (OSError, ValueError):
                    pass
        return out

    CLEANUPS.append(lambda: run(ctl + ["stop"], check=False, env=env, timeout=300) if pids_from_files() else None)
    res = {}
    bt = tools["benchtool"]

    def status_runs(key):
        one, r = timed(ctl + ["status"], env=env, timeout=600)
        calls = max(args.min_calls_theirs, min(args.status_calls, int(args.theirs_budget / max(one, 1e-3))))
        r = run([bt, "runs", str(calls), "--"] + ctl + ["status"], env=env, check=False)
        res[key] = stats([int(x) for x in r.stdout.split()])

    if n > args.intelmq_max_start:
        # too slow to start: the status of the configured, stopped botnet
        status_runs("status_process_stopped")
        res["start"] = res["stop"] = None
        res["note"] = ("start/stop not measured above N=%d (--intelmq-max-start); status of the stopped botnet"
                       % args.intelmq_max_start)
        return res
    took, r = timed(ctl + ["start"], env=env, timeout=900)
    t_start = time.perf_counter() - took
    checks = 1
    while True:
        pids = pids_from_files()
        if len(pids) == n and all(alive(p) for p in pids):
            break
        if time.perf_counter() - t_start > 120:
            raise RuntimeError("intelmqctl(orig): not all running: %s" % r.stdout[-2000:])
        time.sleep(0.01)
        checks += 1
    res["start"] = {"command_s": round(took, 4),
                    "all_running_s": round(took if checks == 1 else time.perf_counter() - t_start, 4),
                    "checks": checks, "exit": r.returncode}
    log("intelmqctl(orig) N=%d: botnet start %.3f s" % (n, res["start"]["all_running_s"]))
    status_runs("status_process")
    log("intelmqctl(orig) N=%d: status of the running botnet median %.0f ms (%d calls)"
        % (n, res["status_process"]["median_us"] / 1000, res["status_process"]["n"]))
    took, r = timed(ctl + ["stop"], env=env, timeout=900)
    t0 = time.perf_counter() - took
    left = wait_gone(pids, 60)
    res["stop"] = {"command_s": round(took, 4), "all_gone_s": round(time.perf_counter() - t0, 4),
                   "left": len(left), "exit": r.returncode}
    log("intelmqctl(orig) N=%d: botnet stop %.3f s" % (n, res["stop"]["all_gone_s"]))
    return res


# ---------------------------------------------------------------- report

def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.3f s" % v
    if unit == "ms":
        return "%.2f ms" % v
    if unit == "us":
        return "%.0f us" % v
    if unit == "MiB":
        return "%.1f MiB" % v
    if unit == "ticks":
        return "%d" % v
    return str(v)


def fmt_ratio(r):
    if r is None:
        return "-"
    if r == 0:
        return "0"
    return "%.3g" % r


def g(d, *path):
    for p in path:
        if d is None:
            return None
        d = d.get(p) if isinstance(d, dict) else None
    return d


def rows_for(res, n):
    k = str(n)
    o, s, i, f = (g(res, "ours", k), g(res, "supervisord", k), g(res, "intelmq", k), res.get("floors"))
    ms = lambda x: None if x is None else x / 1000
    mib = lambda x: None if x is None else x / 1024
    return [
        ("botnet start, until all running", "s", g(o, "start", "all_running_s"), g(s, "start", "all_running_s"),
         g(i, "start", "all_running_s"), g(f, "spawn", k, "median_s")),
        ("botnet start (sup: startsecs=1; floor: +setsid)", "s", g(o, "start", "all_running_s"),
         g(s, "start_default_startsecs", "all_running_s"), None, g(f, "spawn_setsid", k, "median_s")),
        ("status, whole client, median", "ms", ms(g(o, "status_process", "median_us")),
         ms(g(s, "status_process", "median_us")), ms(g(i, "status_process", "median_us")),
         ms(g(f, "trivial_client_process", "median_us"))),
        ("status, whole client, p99", "ms", ms(g(o, "status_process", "p99_us")),
         ms(g(s, "status_process", "p99_us")), ms(g(i, "status_process", "p99_us")),
         ms(g(f, "trivial_client_process", "p99_us"))),
        ("status --json, whole client, median", "ms", ms(g(o, "status_json_process", "median_us")), None, None,
         ms(g(f, "trivial_client_process", "median_us"))),
        ("status, raw round trip, median", "us", g(o, "status_rtt", "median_us"), g(s, "status_rtt", "median_us"),
         None, g(f, "socket_rtt", "median_us")),
        ("status, raw round trip, p99", "us", g(o, "status_rtt", "p99_us"), g(s, "status_rtt", "p99_us"),
         None, g(f, "socket_rtt", "p99_us")),
        ("hello, raw round trip, median", "us", g(o, "hello_rtt", "median_us"), g(s, "hello_rtt", "median_us"),
         None, g(f, "socket_rtt", "median_us")),
        ("botnet stop, until none remains", "s", g(o, "stop", "all_gone_s"), g(s, "stop", "all_gone_s"),
         g(i, "stop", "all_gone_s"), None),
        ("daemon RSS, N bots running", "MiB", mib(g(o, "memory", "rss_kib")), mib(g(s, "memory", "rss_kib")),
         None, None),
        ("daemon CPU ticks, %s s idle" % res["config"]["idle_s"], "ticks", g(o, "idle", "ticks"),
         g(s, "idle", "ticks"), None, None),
        ("daemon context switches, idle", "ticks", g(o, "idle", "ctxt_switches"), g(s, "idle", "ctxt_switches"),
         None, None),
    ]


def table(res):
    lines = []
    m = res["machine"]
    lines.append("machine: %d cores (%s), %s; load before %s, after %s; %s" % (
        m["nproc"], m["cpu"], m["kernel"], " ".join("%.2f" % x for x in m["load_before"]),
        " ".join("%.2f" % x for x in m.get("load_after", [])), res["date"]))
    hdr = ("N", "figure", "intelmqd", "supervisord", "ours/sup", "intelmqctl(orig)", "ours/orig", "floor", "ours/floor")
    out = []
    for n in res["config"]["n"]:
        for name, unit, o, s, i, f in rows_for(res, n):
            out.append((str(n), name, fmt(o, unit), fmt(s, unit), fmt_ratio(ratio(o, s)), fmt(i, unit),
                        fmt_ratio(ratio(o, i)), fmt(f, unit), fmt_ratio(ratio(o, f))))
    lines.append("load (1/5/15 min) when each N began: " + "; ".join(
        "N=%s: %s" % (k, " ".join("%.2f" % x for x in v)) for k, v in m.get("load_during", {}).items()))
    widths = [max(len(r[c]) for r in out + [hdr]) for c in range(len(hdr))]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in out:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(lines)


def targets(res):
    """The issue's targets, at the largest N measured."""
    n = str(max(res["config"]["n"]))
    o, s, f = g(res, "ours", n), g(res, "supervisord", n), res.get("floors", {})
    out = []

    def add(name, ok, detail):
        out.append({"target": name, "met": ok, "detail": detail})

    a, b = g(o, "status_process", "median_us"), g(s, "status_process", "median_us")
    if a and b:
        add("status of %s bots, whole client: >= 100x faster than supervisorctl status" % n, b / a >= 100,
            "%.1fx (%.2f ms vs %.2f ms, medians)" % (b / a, a / 1000, b / 1000))
    c = g(f, "trivial_client_process", "median_us")
    if a and c:
        add("status of %s bots, whole client: within 4x of a trivial binary's start + one socket round trip" % n,
            a / c <= 4, "%.2fx (%.2f ms vs %.2f ms, medians)" % (a / c, a / 1000, c / 1000))
    a, c = g(o, "start", "all_running_s"), g(f, "spawn", n, "median_s")
    if a and c:
        add("botnet start of %s bots: within 2x of the floor (%s spawns from a minimal program)" % (n, n),
            a / c <= 2, "%.2fx (%.3f s vs %.3f s)" % (a / c, a, c))
    b = g(s, "start", "all_running_s")
    if a and b:
        b1 = g(s, "start_default_startsecs", "all_running_s")
        add("botnet start of %s bots: >= 10x faster than supervisord's start all (startsecs=%d)"
            % (n, s["startsecs"]), b / a >= 10, "%.1fx (%.3f s vs %.3f s)%s" % (
                b / a, a, b, "" if b1 is None else "; with its default startsecs=1: %.1fx (%.3f s)" % (b1 / a, b1)))
    a, b = g(o, "memory", "rss_kib"), g(s, "memory", "rss_kib")
    if a and b:
        add("daemon RSS with %s bots <= 1/4 of supervisord's" % n, a * 4 <= b,
            "%.2f of it (%.1f MiB vs %.1f MiB)" % (a / b, a / 1024, b / 1024))
    a = g(o, "idle")
    if a:
        add("CPU over %d s idle with %s bots: zero ticks (no polling)" % (a["seconds"], n), a["ticks"] == 0,
            "%d ticks, %d context switches in %d threads (%d threads ended in the window)"
            % (a["ticks"], a["ctxt_switches"], a["threads"], a["threads_ended"]))
    add("botnet start faster than systemd's start of the same units (optional)", None,
        "not measured: this suite does not run a systemd user manager (optional in the issue)")
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100,500,1000", help="bot counts, comma separated (default 100,500,1000)")
    ap.add_argument("--idle", type=float, default=30, help="idle window in seconds (default 30)")
    ap.add_argument("--status-calls", type=int, default=100, help="whole-process status runs (default 100)")
    ap.add_argument("--rtt-calls", type=int, default=1000, help="raw round trips (default 1000)")
    ap.add_argument("--floor-repeats", type=int, default=3)
    ap.add_argument("--min-calls-theirs", type=int, default=10,
                    help="fewest status runs of a slow competitor (default 10)")
    ap.add_argument("--theirs-budget", type=float, default=20,
                    help="seconds a competitor's status series may take before it is cut (default 20)")
    ap.add_argument("--startsecs", type=int, default=0, help="supervisord startsecs (default 0; its own default is 1)")
    ap.add_argument("--intelmq-max-start", type=int, default=1000,
                    help="largest N at which IntelMQ's intelmqctl starts and stops the botnet")
    ap.add_argument("--skip", default="", help="comma separated: supervisord,intelmq")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release binaries")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--out", help="JSON file (default bench/results/<date>.json)")
    args = ap.parse_args()
    n_list = [int(x) for x in args.n.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    cache = os.environ.get("BENCH_CACHE", "/var/tmp/intelmqd-bench-cache")
    os.makedirs(cache, exist_ok=True)
    os.chmod(cache, 0o755)

    t_begin = time.perf_counter()
    now = datetime.datetime.now()
    res = {"date": now.strftime("%Y-%m-%d %H:%M:%S"), "config": {
        "n": n_list, "idle_s": args.idle, "status_calls": args.status_calls, "rtt_calls": args.rtt_calls,
        "supervisord_startsecs": args.startsecs, "theirs_budget_s": args.theirs_budget}}
    res["machine"] = {"nproc": os.cpu_count(), "load_before": loadavg(), "kernel": platform.release(),
                      "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                   if l.startswith("model name")), "?"), "clk_tck": CLK_TCK}
    try:
        res["git"] = {"head": run(["git", "rev-parse", "HEAD"], cwd=ROOT).stdout.strip(),
                      "dirty_files": len(run(["git", "--no-optional-locks", "status", "--porcelain"],
                                             cwd=ROOT).stdout.splitlines())}
    except Exception:
        res["git"] = None
    log(res["machine"])

    tmp = tempfile.mkdtemp(prefix="intelmqd-bench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    global BOT_EXE
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    try:
        tools = build(args, tmp)
        BOT_EXE = tools["benchbot"]
        res["versions"] = {"rustc": run(["rustc", "--version"]).stdout.strip(),
                           "intelmqd": run([tools["intelmqd"], "--version"]).stdout.strip(),
                           "intelmqd_built": datetime.datetime.fromtimestamp(
                               os.path.getmtime(tools["intelmqd"])).strftime("%Y-%m-%d %H:%M:%S")}
        if "supervisord" not in skip:
            sv = venv(cache, "venv-supervisor", "supervisor==" + SUPERVISOR_VERSION, "supervisor")
            res["versions"]["supervisord"] = run([os.path.join(sv, "bin", "supervisord"), "--version"]).stdout.strip()
        if "intelmq" not in skip:
            iv = venv(cache, "venv-intelmq", "intelmq==" + INTELMQ_VERSION, "intelmq.bin.intelmqctl")
            res["versions"]["intelmq"] = INTELMQ_VERSION
            if os.geteuid() == 0:
                try:
                    pwd.getpwnam("intelmq")
                except KeyError:
                    log("creating the system user intelmq (IntelMQ's intelmqctl refuses to run as root without it)")
                    run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "intelmq"])
        log("floors")
        res["floors"] = floors(tools, tmp, n_list, args)
        res["ours"], res["supervisord"], res["intelmq"] = {}, {}, {}
        res["machine"]["load_during"] = {}
        for n in n_list:
            res["machine"]["load_during"][str(n)] = loadavg()
            res["ours"][str(n)] = bench_ours(tools, tmp, n, args)
            if "supervisord" not in skip:
                res["supervisord"][str(n)] = bench_supervisord(tools, tmp, n, args, sv)
                if args.startsecs != 1:
                    res["supervisord"][str(n)]["start_default_startsecs"] = \
                        bench_supervisord_default_startsecs(tools, tmp, n, args, sv)["start"]
            if "intelmq" not in skip:
                res["intelmq"][str(n)] = bench_intelmq(tools, tmp, n, args, iv)
    finally:
        cleanup()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept", tmp)
    res["machine"]["load_after"] = loadavg()
    res["total_s"] = round(time.perf_counter() - t_begin, 1)
    res["targets"] = targets(res)
    text = table(res)
    print(text)
    print()
    for t in res["targets"]:
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[t["met"]]
        print("%s %s: %s" % (mark, t["target"], t["detail"]))
    print("total %.0f s" % res["total_s"])
    out = args.out or os.path.join(HERE, "results", now.strftime("%Y-%m-%dT%H%M%S") + ".json")
    write_results(res, text, out)


if __name__ == "__main__":
    main()
