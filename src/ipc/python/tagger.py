"""tagstream's tagger for Python: ``get_tags(entity, cardinality)`` asks a tagstream server.

Standard library only. The server is found through environment variables:

- ``TAGSTREAM_SOCKET``: the server's unix socket (default: ``tagstream.sock`` in
  ``$XDG_RUNTIME_DIR``, else in the temporary directory);
- ``TAGSTREAM_TOKEN``: the token itself, or ``TAGSTREAM_TOKEN_FILE``: a file holding it
  (default: the socket path + ``.token``);
- ``TAGSTREAM_TIMEOUT``: seconds to wait for an answer (default: 2).

On any error (no server, bad token, timeout, bad answer, bad arguments) ``get_tags`` returns an
empty list; it never raises.

    >>> import tagger
    >>> tagger.get_tags("container_id://3f4a", tagger.HIGH)
    ['image_name:redis', 'short_image:redis', 'container_name:cache']
"""

import http.client
import json
import os
import socket
import tempfile
import urllib.parse

__all__ = ["LOW", "ORCHESTRATOR", "HIGH", "get_tags"]

LOW = "low"
ORCHESTRATOR = "orchestrator"
HIGH = "high"

_CARDINALITIES = (LOW, ORCHESTRATOR, HIGH)
_MAX_ANSWER_BYTES = 16 * 1024 * 1024


class _UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over a unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _socket_path():
    path = os.environ.get("TAGSTREAM_SOCKET")
    if path:
        return path
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(runtime, "tagstream.sock")


def _token(socket_path):
    token = os.environ.get("TAGSTREAM_TOKEN")
    if token:
        return token.strip()
    token_file = os.environ.get("TAGSTREAM_TOKEN_FILE") or socket_path + ".token"
    with open(token_file, "r", encoding="utf-8") as handle:
        return handle.read().strip()


def _timeout():
    try:
        value = float(os.environ.get("TAGSTREAM_TIMEOUT", "2"))
    except ValueError:
        return 2.0
    return value if value > 0 else 2.0


def get_tags(entity, cardinality=LOW):
    """The entity's tags at ``cardinality`` ('low', 'orchestrator' or 'high'; or LOW,
    ORCHESTRATOR, HIGH), as a list of strings; an empty list on any error."""
    try:
        return _get_tags(entity, cardinality)
    except Exception:  # noqa: BLE001 - the contract is an empty list on any error
        return []


def _get_tags(entity, cardinality):
    if not isinstance(entity, str) or "://" not in entity or cardinality not in _CARDINALITIES:
        return []
    path = _socket_path()
    token = _token(path)
    if not token:
        return []
    target = "/v1/tags/%s?cardinality=%s" % (urllib.parse.quote(entity, safe=""), cardinality)
    connection = _UnixHTTPConnection(path, _timeout())
    try:
        connection.request("GET", target, headers={"Authorization": "Bearer " + token, "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(_MAX_ANSWER_BYTES + 1)
        if response.status != 200 or len(body) > _MAX_ANSWER_BYTES:
            return []
    finally:
        connection.close()
    answer = json.loads(body.decode("utf-8"))
    tags = answer.get("tags") if isinstance(answer, dict) else None
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return []
    return tags
