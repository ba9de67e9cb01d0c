"""``gs://`` paths, read through tf.io.gfile against a local stand-in for Google Cloud Storage.

TensorFlow's GCS filesystem has no endpoint setting: it always asks ``www.googleapis.com`` (metadata, listing)
and ``storage.googleapis.com`` (object bytes), through libcurl. libcurl honours ``https_proxy`` and TensorFlow
passes ``CURL_CA_BUNDLE`` on, so the test runs a proxy on 127.0.0.1 that answers ``CONNECT`` for exactly those
two hosts itself: it terminates TLS with a certificate made here by ``openssl`` (signed by a throw-away CA given
as ``CURL_CA_BUNDLE``) and serves the GCS JSON API calls gfile makes (object metadata, listing with prefix and
delimiter, ranged media reads) from a local folder. It never opens a connection anywhere: any other request is
refused. ``GOOGLE_AUTH_TOKEN_FOR_TESTING`` and ``NO_GCE_CHECK`` keep TensorFlow from looking for credentials.

Tested this way: opening an RLDS folder, reading and standardising episodes, and resolving a named mixture
from a ``gs://`` data_dir. Not tested: writing to ``gs://`` (uploads), and real GCS (auth, retries, throttling).
Skipped where ``openssl`` is missing.
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.parse

import pytest

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

HOSTS = ("www.googleapis.com", "storage.googleapis.com")


def _certificates(folder: str) -> tuple[str, str, str]:
    """A throw-away CA and a certificate for the two GCS hosts signed by it: (ca.pem, server.pem, server.key)."""
    p = {n: os.path.join(folder, n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "san.cnf")}

    def run(*args):
        subprocess.run(args, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["ca.key"], "-out", p["ca.pem"],
        "-days", "1", "-subj", "/CN=jaxrobot test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p["srv.key"], "-out", p["srv.csr"],
        "-subj", f"/CN={HOSTS[0]}")
    with open(p["san.cnf"], "w") as f:
        f.write("subjectAltName=" + ",".join(f"DNS:{h}" for h in HOSTS) + "\n")
    run("openssl", "x509", "-req", "-in", p["srv.csr"], "-CA", p["ca.pem"], "-CAkey", p["ca.key"], "-CAcreateserial",
        "-out", p["srv.pem"], "-days", "1", "-extfile", p["san.cnf"])
    return p["ca.pem"], p["srv.pem"], p["srv.key"]


class _Storage(http.server.BaseHTTPRequestHandler):
    """The GCS calls tf.io.gfile makes for reading, served from ``root/<bucket>/<object>``."""

    protocol_version = "HTTP/1.1"
    root = ""

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, code: int, body: bytes = b"", ctype: str = "application/json", headers=()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path.startswith("/storage/v1/b/"):  # JSON API: bucket, object metadata, listing
            bucket, _, rest = urllib.parse.unquote(url.path[len("/storage/v1/b/"):]).partition("/")
            base = os.path.join(self.root, bucket)
            if rest == "":
                return self._reply(200, json.dumps({"name": bucket, "location": "US"}).encode())
            if rest == "o":
                return self._reply(200, json.dumps(self._listing(base, query)).encode())
            path = os.path.join(base, rest[2:])
            if not os.path.isfile(path):
                return self._reply(404, b'{"error": {"code": 404, "message": "Not Found"}}')
            st = os.stat(path)
            updated = datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return self._reply(200, json.dumps({"size": str(st.st_size), "generation": "1",
                                                "updated": updated}).encode())
        path = os.path.join(self.root, urllib.parse.unquote(url.path.lstrip("/")))  # media: /<bucket>/<object>
        if not os.path.isfile(path):
            return self._reply(404)
        with open(path, "rb") as f:
            data = f.read()
        if "Range" not in self.headers:
            return self._reply(200, data, "application/octet-stream")
        lo, hi = (int(x) for x in self.headers["Range"].split("=")[1].split("-"))
        if lo >= len(data):
            return self._reply(416)
        hi = min(hi, len(data) - 1)
        self._reply(206, data[lo:hi + 1], "application/octet-stream",
                    [("Content-Range", f"bytes {lo}-{hi}/{len(data)}")])

    @staticmethod
    def _listing(base: str, query: dict) -> dict:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter")
        items, prefixes = [], set()
        for folder, _, files in os.walk(base):
            for name in files:
                obj = os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/")
                if not obj.startswith(prefix):
                    continue
                rest = obj[len(prefix):]
                if delimiter and delimiter in rest:
                    prefixes.add(prefix + rest.split(delimiter)[0] + delimiter)
                else:
                    items.append({"name": obj})
        return {"items": sorted(items, key=lambda i: i["name"]), "prefixes": sorted(prefixes)}


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True


def _proxy_handler(context: ssl.SSLContext):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = self.rfile.readline().decode("latin-1").split()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            if len(request) < 2 or request[0] != "CONNECT" or request[1].rsplit(":", 1)[0] not in HOSTS:
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")  # never forwarded
                return
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            try:
                tls = context.wrap_socket(self.connection, server_side=True)
                _Storage(tls, self.client_address, self.server)
            except (ssl.SSLError, OSError):
                pass

    return Handler


@pytest.fixture(scope="module")
def fake_gcs(tmp_path_factory):
    """(bucket folder, environment for a TensorFlow subprocess) of a local GCS stand-in."""
    folder = tmp_path_factory.mktemp("gcs")
    ca, cert, key = _certificates(str(folder))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    _Storage.root = str(folder / "root")
    server = _Proxy(("127.0.0.1", 0), _proxy_handler(context))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    env = {**os.environ, "https_proxy": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "HTTP_PROXY": proxy,
           "no_proxy": "", "NO_PROXY": "", "CURL_CA_BUNDLE": ca, "NO_GCE_CHECK": "true",
           "GOOGLE_AUTH_TOKEN_FOR_TESTING": "test-token", "GCS_RETRY_CONFIG_MAX_RETRIES": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "JAXROBOT_CACHE": str(folder / "cache")}
    yield folder / "root" / "bucket", env
    server.shutdown()
    server.server_close()


_READ = """
import json, sys
import numpy as np
from jaxrobot.data.rlds import fs
from jaxrobot.data.rlds.reader import RldsDataset
from jaxrobot.data.datasets import get_entry
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.standardize import standardize
url = sys.argv[1]
ds = RldsDataset(url + "/taco_play/1.0.0", "train", decode_images=False)
ep = standardize(ds.episode(1), get_entry("taco_play"), decode_images=True, depth=True)
mix = MixtureDataConfig(mixture="rtx", data_dir=url, skip_missing=True).resolve()
print(json.dumps({"listing": fs.listdir(url), "episodes": len(ds), "action": ep["action"].tolist(),
                  "image_sum": int(ep["images"]["primary"].astype(np.int64).sum()),
                  "depth": ep["depth"]["wrist"].tolist(), "members": [d.path for d in mix.datasets]}))
"""


def test_rlds_and_mixture_from_gs_paths(fake_gcs, tmp_path):
    import numpy as np

    from jaxrobot.data.datasets import get_entry
    from jaxrobot.data.rlds.reader import RldsDataset
    from jaxrobot.data.rlds.writer import write_rlds
    from jaxrobot.data.standardize import standardize

    bucket, env = fake_gcs
    rng = np.random.default_rng(0)
    features = {"steps/observation/rgb_static": {"shape": (6, 8, 3), "dtype": "uint8", "encoding": "jpeg"},
                "steps/observation/rgb_gripper": {"shape": (6, 8, 3), "dtype": "uint8", "encoding": "jpeg"},
                "steps/observation/depth_static": {"shape": (6, 8), "dtype": "float32", "encoding": "tensor"},
                "steps/observation/depth_gripper": {"shape": (6, 8), "dtype": "float32", "encoding": "tensor"},
                "steps/observation/robot_obs": {"shape": (15,), "dtype": "float32", "encoding": "tensor"},
                "steps/observation/natural_language_instruction": {"shape": (), "dtype": "string"},
                "steps/action/rel_actions_world": {"shape": (7,), "dtype": "float32", "encoding": "tensor"}}
    episodes = [{k: (rng.integers(0, 255, (t, *f["shape"])).astype(np.uint8) if f["dtype"] == "uint8"
                     else ["open the drawer"] * t if f["dtype"] == "string"
                     else rng.normal(size=(t, *f["shape"])).astype(np.float32)) for k, f in features.items()}
                for t in (4, 6)]
    local = write_rlds(str(bucket), "taco_play", episodes, features=features, progress=False)
    write_rlds(str(bucket), "toto", episodes[:1], features=features, progress=False)
    result = subprocess.run([sys.executable, "-c", _READ, "gs://bucket"], env=env, capture_output=True, text=True,
                            timeout=300, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    ep = standardize(RldsDataset(local, "train", decode_images=False).episode(1), get_entry("taco_play"),
                     decode_images=True, depth=True)
    assert out["listing"] == ["taco_play", "toto"] and out["episodes"] == 2
    np.testing.assert_array_equal(np.asarray(out["action"], np.float32), ep["action"])
    np.testing.assert_array_equal(np.asarray(out["depth"], np.float32), ep["depth"]["wrist"])
    assert out["image_sum"] == int(ep["images"]["primary"].astype(np.int64).sum())
    assert out["members"] == ["gs://bucket/taco_play/1.0.0", "gs://bucket/toto/1.0.0"]
