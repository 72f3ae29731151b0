"""A two-file Hub repository (org/demo: an LFS model.safetensors behind a CDN redirect, a plain config.json) on
127.0.0.1:PORT, just enough of the Hub for huggingface_hub's snapshot_download and for inkwell download-weights.
Used by crosscheck.sh; the xunit tests have their own loopback Hub (FakeHub.cs)."""
import hashlib, json, os, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
big = os.urandom(8_000_000); cfg = b'{"model_type":"llama"}'
sha = hashlib.sha256(big).hexdigest(); git = hashlib.sha1(b"blob %d\0" % len(cfg) + cfg).hexdigest()
commit = "a"*40
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def hdr(self, get):
        p = self.path
        if p.startswith("/api/models/org/demo/revision/"):
            b = json.dumps({"id": "org/demo", "sha": commit, "siblings": [{"rfilename": "model.safetensors"}, {"rfilename": "config.json"}]}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b); return
        if p.startswith("/api/models/org/demo/tree/"):
            b = json.dumps([{"type": "file", "path": "model.safetensors", "size": len(big), "oid": "b"*40, "lfs": {"oid": sha, "size": len(big), "pointerSize": 134}},
                            {"type": "file", "path": "config.json", "size": len(cfg), "oid": git}]).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b); return
        if p.endswith("/model.safetensors"):
            self.send_response(302); self.send_header("X-Repo-Commit", commit); self.send_header("X-Linked-Etag", '"%s"' % sha)
            self.send_header("X-Linked-Size", str(len(big))); self.send_header("Location", "http://127.0.0.1:%d/cdn/x" % port); self.send_header("Content-Length", "0"); self.end_headers(); return
        if p.endswith("/config.json"):
            self.send_response(200); self.send_header("X-Repo-Commit", commit); self.send_header("ETag", '"%s"' % git); self.send_header("Content-Length", str(len(cfg))); self.end_headers()
            if get: self.wfile.write(cfg)
            return
        if p == "/cdn/x":
            self.send_response(200); self.send_header("Content-Length", str(len(big))); self.end_headers()
            for i in range(0, len(big), 400_000): self.wfile.write(big[i:i+400_000]); time.sleep(0.1)
            return
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self): self.hdr(True)
    def do_HEAD(self): self.hdr(False)
port = int(sys.argv[1]); ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
