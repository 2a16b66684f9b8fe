#!/usr/bin/env python3
"""warren and rabbitmq/cluster-operator side by side on the local control plane.

Each operator runs alone (its own process, scoped to a fresh namespace, leader
election on) on the same work: N clusters of one replica (kwok pods). For each
run: time from the first create to every cluster's StatefulSet (children) and
to every cluster's AllReplicasReady condition, the operator's own API writes
per cluster (its rest_client_requests_total), RSS and CPU (from /proc), then
an idle window (API reads, writes and CPU while nothing changes), then a
restart (writes and time until it has reconciled every cluster once, RSS and
peak RSS after it). Runs alternate A/B/A/B. Figures are printed, never
asserted. Usage (hack/bench.sh --peer runs it):

  bench_peer.py --kubectl K --kubeconfig F --warren BIN --peer BIN --peer-crds DIR
                [--clusters 100] [--idle 120] [--rounds 2] [--only warren|cluster-operator]
"""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# cluster-operator enables feature flags once per new cluster with `rabbitmqctl` through pods/exec,
# which kwok's pods cannot serve: it would retry forever (with backoff, writing Events). The
# harness plays the successful exec: it removes the StatefulSet annotation the operator removes
# after success, and adds that one write per cluster to the operator's count.
CREATED_AT = "rabbitmq.com/createdAt"


def log(message):
    print(f"[bench-peer {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Kube:
    def __init__(self, kubectl, kubeconfig):
        self.base = [kubectl, "--kubeconfig", kubeconfig]

    def run(self, *args, stdin=None, check=True):
        result = subprocess.run(self.base + list(args), input=stdin, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def items(self, resource, ns):
        return json.loads(self.run("get", resource, "-n", ns, "-o", "json"))["items"]


def proc_figures(pid):
    """RSS and peak RSS in MiB, CPU seconds (user + system) of a process."""
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return rss, hwm, cpu


def scrape(port):
    """(reads, writes, reconciles) from an operator's Prometheus metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    reads = writes = reconciles = 0.0
    for line in text.splitlines():
        if line.startswith("rest_client_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            verb = re.search(r'(?:verb|method)="([^"]+)"', labels).group(1).lower()
            if verb in ("get", "list"):
                reads += float(value)
            elif verb != "watch":
                writes += float(value)
        elif line.startswith("controller_runtime_reconcile_total{") and (
                'controller="brokercluster"' in line or 'controller="rabbitmqcluster"' in line):
            reconciles += float(line.rsplit(" ", 1)[1])
    return reads, writes, reconciles


class Operator:
    """One operator process under test."""

    def __init__(self, name, kind, plural, command, env, port):
        self.name, self.kind, self.plural = name, kind, plural
        self.command, self.env, self.port = command, env, port
        self.process = None

    def start(self, log_path):
        self.log = open(log_path, "a")
        self.process = subprocess.Popen(self.command, env={**os.environ, **self.env}, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                scrape(self.port)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not serve metrics on :{self.port}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def cluster_manifest(op, count):
    spec = {"replicas": 1}
    if op.kind == "BrokerCluster":
        spec["persistence"] = {"ephemeral": True}
    else:
        spec["persistence"] = {"storage": "0"}  # no volume claim, like warren's ephemeral
    items = [{"apiVersion": ("warren.dev/v1alpha1" if op.kind == "BrokerCluster" else "rabbitmq.com/v1beta1"),
              "kind": op.kind, "metadata": {"name": f"c{i}"}, "spec": spec} for i in range(count)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def wait_for(what, condition, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if condition():
            return time.time()
        time.sleep(1)
    raise RuntimeError(f"timed out waiting for {what}")


def all_ready(kube, op, ns, count):
    ready = 0
    for item in kube.items(op.plural, ns):
        for c in item.get("status", {}).get("conditions", []):
            if c.get("type") == "AllReplicasReady" and c.get("status") == "True":
                ready += 1
    return ready == count


def run_once(kube, op, count, idle, workdir):
    ns = f"peer-{op.name}-{int(time.time())}"
    kube.run("create", "namespace", ns)
    op.env = {**op.env, "OPERATOR_NAMESPACE": ns, "OPERATOR_SCOPE_NAMESPACE": ns}
    op.command = [part.replace("@NS@", ns) for part in op.command]
    logfile = os.path.join(workdir, f"{ns}.log")
    op.start(logfile)
    time.sleep(3)  # leader election and caches
    reads0, writes0, _ = scrape(op.port)
    emulated = set()
    stop_emulating = threading.Event()

    def emulate_exec():
        while not stop_emulating.wait(1):
            for sts in kube.items("statefulsets", ns):
                name = sts["metadata"]["name"]
                if CREATED_AT in sts["metadata"].get("annotations", {}):
                    kube.run("annotate", "statefulset", name, "-n", ns, CREATED_AT + "-", check=False)
                    emulated.add(name)

    emulator = threading.Thread(target=emulate_exec)
    if op.kind == "RabbitmqCluster":
        emulator.start()
    start = time.time()
    kube.run("apply", "-n", ns, "-f", "-", stdin=cluster_manifest(op, count))
    children = wait_for("children", lambda: len(kube.items("statefulsets", ns)) == count, 1800) - start
    ready = wait_for("Ready", lambda: all_ready(kube, op, ns, count), 1800) - start
    time.sleep(5)
    reads1, writes1, _ = scrape(op.port)
    writes1 += len(emulated)
    rss, _, cpu = proc_figures(op.process.pid)
    time.sleep(idle)
    reads2, writes2, _ = scrape(op.port)
    _, _, cpu2 = proc_figures(op.process.pid)
    op.stop()
    restart = time.time()
    op.start(logfile)
    reads3, writes3, reconciles3 = scrape(op.port)
    synced = wait_for("a reconcile of every cluster after the restart",
                      lambda: scrape(op.port)[2] >= count, 600) - restart
    time.sleep(10)
    _, writes4, _ = scrape(op.port)
    rss_restart, hwm_restart, _ = proc_figures(op.process.pid)
    op.stop()
    stop_emulating.set()
    if emulator.is_alive():
        emulator.join()
    # Gone before the next run starts: the garbage collector deleting N clusters' children would
    # otherwise load the API server under the next operator's figures.
    log(f"{op.name}: deleting namespace {ns}")
    if op.kind == "RabbitmqCluster":
        # cluster-operator's deletion finalizer would hold the namespace forever with the operator stopped.
        names = kube.run("get", op.plural, "-n", ns, "-o", "name").split()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: kube.run("patch", "-n", ns, name, "--type=merge",
                                                "-p", '{"metadata":{"finalizers":null}}', check=False), names))
    kube.run("delete", "namespace", ns, "--timeout=1800s")
    return {"operator": op.name, "children_s": children, "ready_s": ready,
            "writes_per_cluster": (writes1 - writes0) / count, "rss_mib": rss, "cpu_s": cpu,
            "idle_reads": reads2 - reads1, "idle_writes": writes2 - writes1, "idle_cpu_s": cpu2 - cpu,
            "restart_writes": writes4 - writes3, "restart_synced_s": synced,
            "restart_rss_mib": rss_restart, "restart_peak_mib": hwm_restart}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--warren", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--peer-crds", required=True)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--idle", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=("warren", "cluster-operator"),
                        help="run one operator alone (e.g. to try a setting), not the A/B comparison")
    args = parser.parse_args()
    kube = Kube(args.kubectl, args.kubeconfig)
    kube.run("apply", "--server-side", "--force-conflicts", "-f", args.peer_crds)
    workdir = tempfile.mkdtemp(prefix="warren-bench-peer-")
    env = {"KUBECONFIG": args.kubeconfig}
    results = []
    for _ in range(args.rounds):
        for factory in (
                lambda: Operator("warren", "BrokerCluster", "brokerclusters",
                                 [args.warren, "--kubeconfig", args.kubeconfig, "--namespace", "@NS@",
                                  "--leader-elect", "--leader-election-namespace", "@NS@",
                                  "--http-bind-address", "127.0.0.1:18095", "--log-level", "warn"], env, 18095),
                lambda: Operator("cluster-operator", "RabbitmqCluster", "rabbitmqclusters",
                                 [args.peer, "--metrics-bind-address", "127.0.0.1:18096", "--zap-log-level", "error"],
                                 env, 18096)):
            op = factory()
            if args.only and op.name != args.only:
                continue
            log(f"{op.name}: {args.clusters} clusters, {args.idle} s idle")
            result = run_once(kube, op, args.clusters, args.idle, workdir)
            log(json.dumps(result))
            results.append(result)
    rows = [("time to all children (s)", "children_s", "{:.1f}"), ("time to all Ready (s)", "ready_s", "{:.1f}"),
            ("API writes per cluster", "writes_per_cluster", "{:.1f}"), ("RSS after Ready (MiB)", "rss_mib", "{:.0f}"),
            ("CPU to Ready (s)", "cpu_s", "{:.1f}"), (f"idle {args.idle} s: reads", "idle_reads", "{:.0f}"),
            (f"idle {args.idle} s: writes", "idle_writes", "{:.0f}"), (f"idle {args.idle} s: CPU (s)", "idle_cpu_s", "{:.2f}"),
            ("restart: writes", "restart_writes", "{:.0f}"), ("restart: time to synced (s)", "restart_synced_s", "{:.1f}"),
            ("restart: RSS / peak (MiB)", None, None)]
    print(f"\nN={args.clusters} clusters of 1 replica, {args.rounds} rounds A/B (each value: one run)")
    print(f"| | warren | cluster-operator v2.13.0 |\n|---|---|---|")
    for title, key, fmt in rows:
        cells = []
        for name in ("warren", "cluster-operator"):
            runs = [r for r in results if r["operator"] == name]
            if key is None:
                cells.append(", ".join(f"{r['restart_rss_mib']:.0f} / {r['restart_peak_mib']:.0f}" for r in runs))
            else:
                cells.append(", ".join(fmt.format(r[key]) for r in runs))
        print(f"| {title} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
