"""Witnesses over HTTP, as a ``ledger.tlog.witnessing.WitnessClient`` adapter (C2SP
``tlog-witness``).

``POST <submission prefix>/add-checkpoint`` with the request body ``ledger.tlog.cosignatures``
builds; the answer's status, content type and text go back to the ledger, which decides what
they mean. A witness that does not answer in time, refuses the connection, or answers 5xx is
``WitnessUnavailable``: the sequencer asks again with its next checkpoint. One keep-alive session
per process, as the specification asks of clients.
"""

from __future__ import annotations

import requests

from ledger.tlog.witnessing import WitnessAnswer, WitnessUnavailable
from service.base.config import TLOG_WITNESS_TIMEOUT_S

#: A witness answers a few signature lines; anything longer is not read.
ANSWER_BYTES_MAX = 64 * 1024


class WitnessHttp:
    def __init__(self, *, timeout_s: float = TLOG_WITNESS_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def add_checkpoint(self, url: str, body: bytes) -> WitnessAnswer:
        try:
            response = self.session.post(
                f"{url}/add-checkpoint",
                data=body,
                timeout=self.timeout_s,
                stream=True,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
            raw = response.raw.read(ANSWER_BYTES_MAX + 1, decode_content=True)
        except requests.RequestException as error:
            raise WitnessUnavailable(type(error).__name__) from error
        if response.status_code >= 500:
            raise WitnessUnavailable(f"HTTP {response.status_code}")
        if len(raw) > ANSWER_BYTES_MAX:
            raise WitnessUnavailable("an answer too long to be a witness's")
        return WitnessAnswer(
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            text=raw.decode("utf-8", "replace"),
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> WitnessHttp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
