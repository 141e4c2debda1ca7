"""The WeChat server-side access token is fetched once and shared by every worker.

In production the workers are gunicorn processes sharing Redis; here real processes race for it.
In the embedded default the threads of one process share an in-process store.
"""

import multiprocessing
import threading

import pytest

from service.base.exceptions import ServiceError
from service.errors import status_of
from service.extensions import wechat_client

WORKERS = 8
#: How long the parent waits for each worker process: each starts Python and builds an app, which
#: on a loaded machine took over a minute.
WORKER_ANSWER_WAIT_S = 180


def test_threads_of_one_worker_fetch_the_token_once(app, fake_wechat):
    fake_wechat.token_delay_s = 0.2
    barrier = threading.Barrier(WORKERS)
    tokens: list[str] = []

    def worker():
        barrier.wait()
        tokens.append(wechat_client(app).access_token())

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(tokens) == WORKERS
    assert len(set(tokens)) == 1
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


def _worker_process(config, barrier, results):
    from service.app import create_app
    from service.extensions import wechat_client as client_of

    app = create_app(config)
    barrier.wait()
    try:
        results.put(client_of(app).access_token())
    except Exception as error:  # reported to the parent, which fails the test
        results.put(f"error: {error!r}")


def test_gunicorn_like_worker_processes_fetch_the_token_once(server_config, fake_wechat):
    fake_wechat.token_delay_s = 0.3
    config = server_config
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=_worker_process, args=(config, barrier, results))
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    tokens = [results.get(timeout=WORKER_ANSWER_WAIT_S) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(not token.startswith("error") for token in tokens), tokens
    assert len(set(tokens)) == 1
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


def test_a_worker_started_later_reuses_the_cached_token(make_app, fake_wechat, backend):
    if backend.redis_url is None:
        pytest.skip("in the embedded profile each process has its own store")
    first = wechat_client(make_app()).access_token()
    later_worker = make_app()  # a new app: its own Redis connection, the same Redis
    assert wechat_client(later_worker).access_token() == first
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


def test_without_redis_the_token_is_a_clear_503_not_a_500(make_app, backend, redis_server):
    # The token cannot do without the shared store (workers must not each fetch their own).
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis to lose")
    app = make_app(REDIS_URL=redis_server.url)
    redis_server.stop()
    with app.app_context():
        with pytest.raises(ServiceError) as raised:
            wechat_client(app).access_token()
    assert status_of(raised.value) == 503
