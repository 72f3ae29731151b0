#!/usr/bin/env python3
"""Bounded soak client for a running inkwell server: N concurrent clients loop over mixed requests until --duration.

Each request picks an API (TGI /generate_stream, TGI /generate, OpenAI /v1/completions stream or not, OpenAI chat
when --chat), greedy or seeded sampling, a prompt length and max tokens at random, and about one in six is cut
after a random number of events (the client hangs up). Every second it samples the server's RSS (/proc/PID/status)
and the requests finished in that second with their latency. Writes:
  timeline.csv  second, rss_mib, requests, errors, p50_ms, p99_ms
  summary.json  requests, errors (non-2xx), http_5xx, cancellations, peak_rss_mib, final_rss_mib, latency p50/p99,
                and the /metrics gauges at the end (leaked KV blocks and permits)
Only loopback URLs are accepted.
"""
import argparse, http.client, json, os, random, statistics, sys, threading, time, urllib.parse

PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben went to the park",
           "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.",
           " ".join(["Tom had a red ball and he liked to throw it to his dog."] * 6)]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return float("nan")
    return float("nan")


def request(url, rng, chat, timeout):
    u = urllib.parse.urlparse(url)
    api = rng.choice(["tgi_stream", "tgi", "openai_stream", "openai"] + (["chat"] if chat else []))
    prompt = rng.choice(PROMPTS)
    tokens = rng.choice([1, 8, 32, 64, 128, 200])
    sample = rng.random() < 0.5
    seed = rng.randrange(1 << 31)
    cut_after = rng.randrange(1, 30) if rng.random() < 1 / 6 else None
    if api.startswith("tgi"):
        params = {"max_new_tokens": tokens, "details": rng.random() < 0.3}
        if sample:
            params.update({"do_sample": True, "temperature": rng.choice([0.5, 0.9, 1.3]), "top_k": rng.choice([5, 40]), "seed": seed})
        path = "/generate_stream" if api == "tgi_stream" else "/generate"
        body = {"inputs": prompt, "parameters": params}
    else:
        body = {"model": "m", "max_tokens": tokens, "stream": api != "openai", "seed": seed,
                "temperature": 0.9 if sample else 0.0, "n": rng.choice([1, 1, 2])}
        if api == "chat":
            path, body["messages"] = "/v1/chat/completions", [{"role": "user", "content": prompt}]
        else:
            path, body["prompt"] = "/v1/completions", prompt
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.perf_counter()
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        events = 0
        cancelled = False
        while True:
            line = resp.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                events += 1
                if cut_after is not None and events >= cut_after:
                    cancelled = True
                    break
        return {"status": resp.status, "ms": (time.perf_counter() - t0) * 1000, "cancelled": cancelled}
    except (OSError, http.client.HTTPException) as e:
        return {"status": 0, "ms": (time.perf_counter() - t0) * 1000, "cancelled": False, "error": str(e)}
    finally:
        conn.close()


def gauges(url):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=180)
    ap.add_argument("--chat", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    if urllib.parse.urlparse(a.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("soak.py: only loopback URLs")
    os.makedirs(a.out, exist_ok=True)
    lock = threading.Lock()
    done = []
    end = time.time() + a.duration

    def client(i):
        rng = random.Random(a.seed * 1000 + i)
        while time.time() < end:
            r = request(a.url, rng, a.chat, timeout=120)
            r["t"] = time.time()
            with lock:
                done.append(r)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(a.concurrency)]
    for t in threads:
        t.start()
    start = time.time()
    peak = 0.0
    with open(os.path.join(a.out, "timeline.csv"), "w") as tl:
        tl.write("second,rss_mib,requests,errors,p50_ms,p99_ms\n")
        seen = 0
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss = rss_mib(a.pid)
            peak = max(peak, rss) if rss == rss else peak
            with lock:
                batch = done[seen:]
                seen = len(done)
            ms = sorted(r["ms"] for r in batch)
            p = lambda q: ms[min(len(ms) - 1, int(q * (len(ms) - 1)))] if ms else float("nan")
            errors = sum(1 for r in batch if not (200 <= r["status"] < 300))
            tl.write(f"{time.time() - start:.0f},{rss:.1f},{len(batch)},{errors},{p(0.5):.0f},{p(0.99):.0f}\n")
            tl.flush()
    time.sleep(1)  # the engine drops the last hung-up requests at its next step
    g = gauges(a.url)
    ms = sorted(r["ms"] for r in done if not r["cancelled"])
    summary = {
        "requests": len(done),
        "errors": sum(1 for r in done if not (200 <= r["status"] < 300)),
        "http_5xx": sum(1 for r in done if r["status"] >= 500),
        "connection_errors": sum(1 for r in done if r["status"] == 0),
        "cancellations": sum(1 for r in done if r["cancelled"]),
        "peak_rss_mib": round(peak, 1),
        "final_rss_mib": round(rss_mib(a.pid), 1),
        "latency_p50_ms": round(statistics.median(ms), 1) if ms else None,
        "latency_p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 1) if ms else None,
        "leaked_kv_blocks": g.get("inkwell_kv_blocks_total", 0) - g.get("inkwell_kv_blocks_free", 0),
        "permits_in_use": g.get("inkwell_permits_in_use"),
    }
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
