#!/usr/bin/env python3
"""Loopback cluster bench: three `inkwell serve` replicas of one model behind `inkwell serve --registry` (the gateway).

Workload: 8 distinct long system prompts, each shared by many users (the prompt's tail differs per user), streamed
through the gateway's TGI route by a few concurrent clients in a shuffled order. Each phase starts fresh replicas
(empty prefix caches) and reports:
  - prefix-cache hit rate: sum over replicas of inkwell_prefix_cache_hit_tokens / tgi_request_input_length_sum
    (each replica's own /metrics), and time to first token p50/p99 as the client sees it;
  - phases: round_robin, prefix_affinity, then prefix_affinity with one replica SIGKILLed a third of the way in
    and restarted on its port a few seconds later: requests that failed before their first event (must be 0),
    requests cut mid-stream, whether the gateway ejected it (inkwell_gateway_replica_healthy 0) and whether the
    restarted process served requests again.
Usage: cluster.py --cli .artifacts/cli/inkwell.dll --model models/stories260K/stories260K-f32.gguf
"""
import argparse, http.client, json, os, random, re, signal, socket, statistics, subprocess, sys, tempfile, threading, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def wait_healthy(port, what, deadline_s=120):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            if get(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{what} on port {port} did not become healthy in {deadline_s}s")


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if m:
            total += float(m.group(2))
    return total


class Replica:
    def __init__(self, args, port):
        self.args, self.port, self.proc = args, port, None

    def start(self):
        a = self.args
        cmd = ["dotnet", a.cli, "serve", "--model-id", a.model, "--hostname", "127.0.0.1", "--port", str(self.port),
               "--grpc-port", str(free_port()), "--num-threads", "1", "--max-total-tokens", str(a.max_total_tokens),
               "--max-batch-total-tokens", str(a.kv_tokens)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
        wait_healthy(self.port, "replica")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def metrics(self):
        return get(self.port, "/metrics")[1]


def clean_env():
    # serve reads HOSTNAME, PORT, MODEL_ID ... from the environment: pass only what the flags do not cover.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOTNET_ROOT", "TMPDIR", "LANG")}
    env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1"
    return env


def write_registry(directory, model, ports, routing):
    with open(os.path.join(directory, "model_metadata.yaml"), "w") as f:
        f.write("models:\n  - name: bench/stories\n")
    urls = ", ".join(f'"http://127.0.0.1:{p}/"' for p in ports)
    with open(os.path.join(directory, "model_deployments.yaml"), "w") as f:
        f.write(f"model_deployments:\n  - name: bench/stories\n    client_spec: {{kind: tgi, urls: [{urls}], routing: {routing}}}\n")


def system_prompts(n, chars):
    rng = random.Random(7)
    words = ("once upon a time there was a little girl named lily she liked to play in the park with her dog "
             "one day the sun was shining and the birds sang happy songs in the big green tree").split()
    return [f"Story {i}: " + " ".join(rng.choice(words) for _ in range(chars // 5))[:chars] for i in range(n)]


def stream(port, prompt, max_tokens, timeout=120):
    """One streamed generation; returns (status, ttft seconds or None, got a first event, finished cleanly)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens}}
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/models/bench/stories/generate_stream", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            resp.read()
            return resp.status, None, False, False
        ttft, buf, done = None, b"", False
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                data = event.strip()[5:].strip() if event.strip().startswith(b"data:") else b""
                if not data:
                    continue
                ev = json.loads(data)
                if "error" in ev:
                    return 200, ttft, ttft is not None, False
                if ttft is None and ev.get("token") is not None:
                    ttft = time.perf_counter() - t0
                if ev.get("generated_text") is not None:
                    done = True
        return 200, ttft, ttft is not None, done
    except (OSError, http.client.HTTPException):
        return 0, None, False, False
    finally:
        conn.close()


def run_phase(args, routing, kill_one=False):
    ports = [free_port() for _ in range(3)]
    replicas = [Replica(args, p) for p in ports]
    gateway_port = free_port()
    registry = tempfile.mkdtemp(prefix="inkwell-cluster-")
    write_registry(registry, args.model, ports, routing)
    gateway = None
    try:
        for r in replicas:
            r.start()
        gateway = subprocess.Popen(["dotnet", args.cli, "serve", "--registry", registry, "--hostname", "127.0.0.1",
                                    "--port", str(gateway_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
        wait_healthy(gateway_port, "gateway")
        # Warm-up (JIT, first allocations) on each replica directly, with a prompt unlike the workload's, so the
        # timed part measures routing and caching rather than a cold process.
        for r in replicas:
            c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=120)
            c.request("POST", "/generate", json.dumps({"inputs": "Warm up.", "parameters": {"max_new_tokens": 4}}), {"Content-Type": "application/json"})
            c.getresponse().read()
            c.close()
        prompts = system_prompts(8, args.prompt_chars)
        jobs = [(p, f"\nUser {u}: tell me a story about the {random.Random(u).choice(['cat', 'dog', 'sun', 'tree'])}.")
                for p in prompts for u in range(args.users)]
        random.Random(11).shuffle(jobs)
        results, lock, cursor = [], threading.Lock(), [0]
        kill_at = len(jobs) // 3 if kill_one else None
        events = {}

        def worker():
            while True:
                with lock:
                    if cursor[0] >= len(jobs):
                        return
                    i = cursor[0]
                    cursor[0] += 1
                if kill_at is not None and i == kill_at:
                    threading.Thread(target=kill_and_restart, daemon=True).start()
                system, user = jobs[i]
                r = stream(gateway_port, system + user, args.max_tokens)
                with lock:
                    results.append(r)

        def kill_and_restart():
            victim = replicas[2]
            victim.kill()
            events["killed_at"] = time.time()
            # Wait for the gateway to eject it, then restart it on its port.
            end = time.time() + 30
            while time.time() < end:
                text = get(gateway_port, "/metrics")[1]
                if re.search(rf'inkwell_gateway_replica_healthy\{{[^}}]*127\.0\.0\.1:{victim.port}/"\}} 0', text):
                    events["ejected_after_s"] = round(time.time() - events["killed_at"], 2)
                    break
                time.sleep(0.1)
            time.sleep(args.down_seconds)
            victim.start()
            events["restarted_at"] = time.time()

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t0
        if kill_one:
            # Keep sending until the restarted replica has been probed back in and served (bounded).
            end = time.time() + 60
            while "restarted_at" not in events and time.time() < end:
                time.sleep(0.2)
            end = time.time() + 60
            while time.time() < end:
                stream(gateway_port, random.choice(prompts) + "\nUser 999: hello", args.max_tokens)
                if metric_sum(replicas[2].metrics(), "tgi_request_count") > 0:
                    break
        hit = sum(metric_sum(r.metrics(), "inkwell_prefix_cache_hit_tokens") for r in replicas)
        # (the warm-up prompts count in the denominator: a few tokens against the workload's tens of thousands)
        prompt_tokens = sum(metric_sum(r.metrics(), "tgi_request_input_length_sum") for r in replicas)
        ttfts = sorted(t for (_, t, _, _) in results if t is not None)
        pct = lambda q: ttfts[min(len(ttfts) - 1, int(round(q * (len(ttfts) - 1))))] * 1000 if ttfts else float("nan")
        out = {
            "routing": routing, "requests": len(results), "wall_s": round(wall, 1),
            "prefix_cache_hit_rate": round(hit / prompt_tokens, 3) if prompt_tokens else None,
            "ttft_p50_ms": round(pct(0.5), 1), "ttft_p99_ms": round(pct(0.99), 1),
            "ok": sum(1 for r in results if r[3]),
            "failed_before_first_event": sum(1 for r in results if not r[2]),
            "cut_mid_stream": sum(1 for r in results if r[2] and not r[3]),
        }
        if kill_one:
            out["killed_replica_ejected_after_s"] = events.get("ejected_after_s")
            out["restarted_replica_requests"] = metric_sum(replicas[2].metrics(), "tgi_request_count")
            out["gateway_metrics_replica_lines"] = [l for l in get(gateway_port, "/metrics")[1].splitlines()
                                                    if l.startswith(("inkwell_gateway_replica_healthy", "inkwell_gateway_replica_attempts_total"))]
        return out
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=30)
        for r in replicas:
            r.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True, help="path of inkwell.dll")
    ap.add_argument("--model", required=True)
    ap.add_argument("--users", type=int, default=16, help="users per system prompt")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--prompt-chars", type=int, default=700, help="length of each system prompt")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--max-total-tokens", type=int, default=512)
    ap.add_argument("--kv-tokens", type=int, default=2048, help="each replica's KV cache (--max-batch-total-tokens)")
    ap.add_argument("--down-seconds", type=float, default=3)
    ap.add_argument("--phases", default="round_robin,prefix_affinity,kill")
    args = ap.parse_args()
    for phase in args.phases.split(","):
        result = run_phase(args, "prefix_affinity" if phase == "kill" else phase, kill_one=phase == "kill")
        result["phase"] = phase
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
