"""tagstream's tagger for Python: ``get_tags(entity, cardinality)`` asks a tagstream server;
``lookup(entity, cardinality, wait)`` also says whether the entity is complete (every collector
expected for it has reported it), waiting up to ``wait`` seconds for that.

Standard library only. The server is found through environment variables:

- ``TAGSTREAM_SOCKET``: the server's unix socket (default: ``tagstream.sock`` in
  ``$XDG_RUNTIME_DIR``, else in ``/run/tagstream`` for root, else in ``tagstream-<uid>`` in the
  temporary directory);
- ``TAGSTREAM_TOKEN``: the token itself, or ``TAGSTREAM_TOKEN_FILE``: a file holding it
  (default: the socket path + ``.token``);
- ``TAGSTREAM_TIMEOUT``: seconds to wait for an answer (default: 2).

On any error (no server, bad token, timeout, bad answer, bad arguments) ``get_tags`` returns an
empty list; it never raises. An entity id the server refuses (not ``prefix://id`` of printable
characters within 4096, or a short container id that begins several containers) is also logged
on the ``tagstream`` logger, with the reason. The socket, the token file and their directories must belong to this
user or root and not be writable by others (as ssh checks its files): otherwise the token is not
sent, ``get_tags`` returns an empty list and the ``tagstream`` logger says what to fix.

    >>> import tagger
    >>> tagger.get_tags("container_id://3f4a", tagger.HIGH)
    ['image_name:redis', 'short_image:redis', 'container_name:cache']
    >>> tagger.lookup("container_id://3f4a", tagger.HIGH, wait=0.5)
    {'tags': ['image_name:redis', 'short_image:redis', 'container_name:cache', 'pod_name:web-1'], 'complete': True, 'missing': []}

``lookup`` never raises either: on any error it returns ``{"tags": [], "complete": False,
"missing": ["unknown"]}``, and a server older than the ``wait`` parameter gives its tags with
``"complete": False, "missing": ["unknown"]``. The server cuts ``wait`` to its own cap
(``maxQueryWait``, 5 s by default).
"""

import http.client
import json
import logging
import os
import socket
import stat
import sys
import tempfile
import urllib.parse

__all__ = ["LOW", "ORCHESTRATOR", "HIGH", "get_tags", "lookup"]

LOW = "low"
ORCHESTRATOR = "orchestrator"
HIGH = "high"

_LOG = logging.getLogger("tagstream")
_CARDINALITIES = (LOW, ORCHESTRATOR, HIGH)
_MAX_ANSWER_BYTES = 16 * 1024 * 1024
_MAX_ENTITY_ID_LENGTH = 4096
# The largest wait the protocol accepts, in milliseconds (the server cuts it to its own cap).
_MAX_WAIT_MS = 3600000


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


class _Untrusted(Exception):
    """A socket, token file or directory that another user owns or others can write."""


def _socket_path():
    path = os.environ.get("TAGSTREAM_SOCKET")
    if path:
        return path
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        # As the server's default: a directory of this user's own, never a shared one.
        uid = os.getuid() if hasattr(os, "getuid") else None
        if uid == 0 and sys.platform.startswith("linux"):
            runtime = "/run/tagstream"
        else:
            runtime = os.path.join(tempfile.gettempdir(), "tagstream-%s" % ("user" if uid is None else uid))
    return os.path.join(runtime, "tagstream.sock")


def _check_private(path, kind):
    """Raises _Untrusted unless ``path`` (when it exists) and each directory above it belong to
    this user or root and are not writable by group or others (a sticky directory, as /tmp, may be)."""
    if not hasattr(os, "getuid"):
        return  # no uids to compare (Windows)
    uid = os.getuid()
    path = os.path.abspath(path)
    current, what = path, kind
    while True:
        try:
            info = os.stat(current)
        except FileNotFoundError:
            info = None
        if info is not None:
            if info.st_uid not in (uid, 0):
                raise _Untrusted("%s %s is owned by uid %d, not by this user (uid %d) or root: remove it if you do not know who made it, or chown %d %s"
                                 % (what, current, info.st_uid, uid, uid, current))
            sticky = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
            if info.st_mode & 0o022 and not sticky:
                raise _Untrusted("%s %s is writable by group or others (mode %04o): chmod go-w %s"
                                 % (what, current, stat.S_IMODE(info.st_mode), current))
        parent = os.path.dirname(current)
        if parent == current:
            return
        current, what = parent, "directory"


def _token(socket_path):
    token = os.environ.get("TAGSTREAM_TOKEN")
    if token:
        return token.strip()
    token_file = os.environ.get("TAGSTREAM_TOKEN_FILE") or socket_path + ".token"
    _check_private(token_file, "token file")
    with open(token_file, "r", encoding="utf-8") as handle:
        return handle.read().strip()


def _timeout():
    try:
        value = float(os.environ.get("TAGSTREAM_TIMEOUT", "2"))
    except ValueError:
        return 2.0
    return value if value > 0 else 2.0


def get_tags(entity, cardinality=LOW, wait=None):
    """The entity's tags at ``cardinality`` ('low', 'orchestrator' or 'high'; or LOW,
    ORCHESTRATOR, HIGH), as a list of strings; an empty list on any error. With ``wait``
    (seconds), the server first waits up to that long for the entity to be complete."""
    answer = _answer(entity, cardinality, wait)
    return [] if answer is None else answer["tags"]


def lookup(entity, cardinality=LOW, wait=None):
    """The entity's tags with its completeness: ``{"tags": [...], "complete": bool, "missing":
    [sources]}``, waiting up to ``wait`` seconds (default: none) for it to be complete. On any
    error: no tags, ``"complete": False, "missing": ["unknown"]``; never raises."""
    answer = _answer(entity, cardinality, 0 if wait is None else wait)
    if answer is None:
        return {"tags": [], "complete": False, "missing": ["unknown"]}
    return answer


def _answer(entity, cardinality, wait):
    try:
        return _ask(entity, cardinality, wait)
    except _Untrusted as error:
        _LOG.warning("tagstream: not asking the server: %s", error)
        return None
    except Exception:  # noqa: BLE001 - the contract is an empty answer on any error
        return None


def _wait_ms(wait):
    """``wait`` seconds as the protocol's whole milliseconds (rounded up, at most an hour), or None
    when it is not a non-negative finite number."""
    if isinstance(wait, bool) or not isinstance(wait, (int, float)):
        return None
    if wait != wait or wait < 0 or wait == float("inf"):
        return None
    return min(_MAX_WAIT_MS, int(-(-wait * 1000 // 1)))


def _entity_problem(entity):
    """Why ``entity`` is refused before any request, or None: the server's rule, a string
    ``prefix://id`` of at most 4096 (UTF-16) characters, each printable."""
    if not isinstance(entity, str):
        return "expected a string prefix://id"
    if len(entity.encode("utf-16-le", "surrogatepass")) // 2 > _MAX_ENTITY_ID_LENGTH:
        return "longer than %d characters" % _MAX_ENTITY_ID_LENGTH
    prefix, separator, rest = entity.partition("://")
    if not prefix or not separator or not rest:
        return "expected prefix://id"
    if not entity.isprintable():
        return "a character is not printable"
    return None


def _refusal(body):
    """The server's message when it refused the entity id (malformed, or a short id that begins
    several entities), else None."""
    try:
        error = json.loads(body.decode("utf-8")).get("error")
    except (ValueError, AttributeError):
        return None
    if isinstance(error, dict) and error.get("code") in ("InvalidEntityId", "AmbiguousEntityId"):
        return str(error.get("message"))
    return None


def _ask(entity, cardinality, wait):
    """The server's answer as ``{"tags", "complete", "missing"}`` (completeness only asked with a
    ``wait``), or None."""
    if cardinality not in _CARDINALITIES:
        return None
    wait_ms = None if wait is None else _wait_ms(wait)
    if wait is not None and wait_ms is None:
        _LOG.warning("tagstream: invalid wait %.200r: expected a non-negative number of seconds", wait)
        return None
    problem = _entity_problem(entity)
    if problem is not None:
        logging.getLogger("tagstream").warning("tagstream: invalid entity id %.200r: %s", entity, problem)
        return None
    path = _socket_path()
    # Checked before the token is read or sent: another user's socket never gets it.
    _check_private(path, "socket")
    token = _token(path)
    if not token:
        return None
    target = "/v1/tags/%s?cardinality=%s" % (urllib.parse.quote(entity, safe=""), cardinality)
    if wait_ms is not None:
        target += "&wait=%d" % wait_ms
    # The answer may take the wait (the server cuts it to its cap) on top of the usual timeout.
    connection = _UnixHTTPConnection(path, _timeout() + (wait_ms or 0) / 1000.0)
    try:
        connection.request("GET", target, headers={"Authorization": "Bearer " + token, "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(_MAX_ANSWER_BYTES + 1)
        if response.status == 400:
            refusal = _refusal(body[:65536])
            if refusal is not None:
                logging.getLogger("tagstream").warning("tagstream: %s", refusal)
            return None
        if response.status != 200 or len(body) > _MAX_ANSWER_BYTES:
            return None
    finally:
        connection.close()
    answer = json.loads(body.decode("utf-8"))
    tags = answer.get("tags") if isinstance(answer, dict) else None
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return None
    complete = answer.get("complete")
    missing = answer.get("missing")
    if not isinstance(complete, bool):
        # Not asked, or a server older than ``wait``: nothing is known of completeness.
        return {"tags": tags, "complete": False, "missing": ["unknown"]}
    if complete:
        missing = []
    elif not isinstance(missing, list) or not all(isinstance(source, str) for source in missing):
        missing = ["unknown"]
    return {"tags": tags, "complete": complete, "missing": missing}
