"""Request bodies over the limit, however they are sent: with a Content-Length or in chunks
(``Transfer-Encoding: chunked``, no length), against a real HTTP server in a thread. Over
``MAX_CONTENT_LENGTH_BYTES`` is 413 ``payload_too_large`` in the error shape, never a body cut
short and read as something else; under it, a chunked body is read whole."""

import http.client
import json
import threading

import pytest
from werkzeug.serving import make_server

from service.base.config import MAX_CONTENT_LENGTH_BYTES

NOTIFY = "/api/v1/payments/wechatpay/notify"
SIGN_IN = "/api/v1/auth/password"


@pytest.fixture()
def server(app):
    """The app behind werkzeug's threaded server on a free port; yields (host, port)."""
    served = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served.host, served.port
    served.shutdown()
    thread.join()


def _chunked(address, path, body, chunk=64 * 1024):
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), chunk):
            part = body[start : start + chunk]
            try:
                connection.send(b"%x\r\n%s\r\n" % (len(part), part))
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered before reading it all
        else:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _json_of_size(size):
    """A JSON object of exactly ``size`` bytes."""
    skeleton = json.dumps({"padding": ""}).encode()
    return json.dumps({"padding": "x" * (size - len(skeleton))}).encode()


@pytest.mark.parametrize("path", [NOTIFY, SIGN_IN])
def test_a_chunked_body_over_the_limit_is_413(server, path):
    status, answer = _chunked(server, path, _json_of_size(MAX_CONTENT_LENGTH_BYTES + 1))
    assert (status, answer["code"]) == (413, "payload_too_large"), answer
    assert answer["status"] == 413 and "request_id" in answer


def test_a_chunked_body_at_the_limit_is_read_whole(server, make_staff):
    user = make_staff(role="operator")
    body = json.dumps({"username": user.username, "password": "correct horse battery staple"})
    status, answer = _chunked(server, SIGN_IN, body.encode(), chunk=7)
    assert status == 200, answer
    assert answer["access_token"]
    # Exactly the limit is allowed: it is read whole (and refused for what it says).
    status, answer = _chunked(server, SIGN_IN, _json_of_size(MAX_CONTENT_LENGTH_BYTES))
    assert (status, answer["code"]) == (422, "validation_failed"), answer
