"""The transparency log over HTTP, for anyone who wants to watch it without trusting us.

* ``/log/checkpoint``, ``/log/tile/<L>/<N>[.p/<W>]`` and ``/log/tile/entries/<N>[.p/<W>]``: the
  log as C2SP ``tlog-tiles`` describes it. The checkpoint is the signed note byte for byte
  (``text/plain``, never cached), with the cosignatures of the witnesses that cosigned it; tiles
  and bundles never change once served, and are cached for a year.
* ``/log/tanhui-verify.py``: the single-file verifier (it needs only ``cryptography``).
* ``/api/v1/log/…``: the checkpoint as JSON, and inclusion and consistency proofs for clients
  that would rather ask than fetch tiles.

Everything here is public and read-only, and open to pages of any origin (CORS), so a monitor in a
browser can read it too.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from pathlib import Path

from flask import Blueprint as PlainBlueprint
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.tlog import proofs
from ledger.tlog.tiles import TileError, tile_parse, tile_read
from ledger.tlog.witnessing import published_checkpoint, witness_states
from service.base.exceptions import NotFound
from service.db import get_session
from service.extensions import rate_limited
from service.signing import log_signer

#: Tiles and bundles never change: a year, and ``immutable`` so browsers do not revalidate.
TILE_CACHE_CONTROL = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE_CONTROL = "no-cache"
SIZE_MAX = 2**63 - 1
VERIFIER_PATH = Path(__file__).resolve().parents[2] / "tools" / "tanhui-verify.py"

tiles_blp = PlainBlueprint("log_tiles", __name__)
blp = Blueprint(
    "log",
    __name__,
    url_prefix="/api/v1/log",
    description="The transparency log: its signed checkpoint, inclusion and consistency proofs.",
)


def _public(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@tiles_blp.get("/log/checkpoint")
@rate_limited("RATELIMIT_LOG")
def checkpoint() -> Response:
    published = published_checkpoint(
        get_session(), quorum=current_app.config["TLOG_WITNESS_QUORUM"]
    )
    if published is None:
        raise NotFound()
    response = Response(published["note"], content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = CHECKPOINT_CACHE_CONTROL
    return _public(response)


@tiles_blp.get("/log/tile/<path:path>")
@rate_limited("RATELIMIT_LOG")
def tile(path: str) -> Response:
    try:
        wanted = tile_parse(path)
        data = tile_read(get_session(), wanted, size=proofs.signed_size(get_session()))
    except TileError as error:
        raise NotFound() from error
    response = Response(data, content_type="application/octet-stream")
    if wanted.level is None:
        response.headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(gzip.compress(data, compresslevel=6, mtime=0))
            response.headers["Content-Encoding"] = "gzip"
    response.headers["Cache-Control"] = TILE_CACHE_CONTROL
    return _public(response)


@tiles_blp.get("/log/tanhui-verify.py")
def verifier() -> Response:
    if not VERIFIER_PATH.is_file():
        raise NotFound()
    response = Response(VERIFIER_PATH.read_bytes(), mimetype="text/x-python")
    response.headers["Content-Disposition"] = "attachment; filename=tanhui-verify.py"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return _public(response)


# -- JSON -----------------------------------------------------------------------------------------
class CosignatureSchema(Schema):
    witness = fields.String()
    timestamp = fields.Integer(metadata={"description": "POSIX seconds the witness signed at."})


class WitnessSchema(Schema):
    name = fields.String()
    cosigned_size = fields.Integer(metadata={"description": "The largest size it cosigned."})
    refusal = fields.String(allow_none=True, metadata={"description": "Its last refusal."})


class CheckpointSchema(Schema):
    origin = fields.String()
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "Base64, as in the checkpoint."})
    signed_at = fields.DateTime()
    note = fields.String(metadata={"description": "The signed note, with cosignatures."})
    witnessed = fields.Boolean(metadata={"description": "Cosigned by the witness quorum."})
    cosignatures = fields.List(fields.Nested(CosignatureSchema))
    witnesses = fields.List(fields.Nested(WitnessSchema))
    verifier_key = fields.String()


class InclusionQuerySchema(Schema):
    leaf_index = fields.Integer(validate=validate.Range(min=0, max=SIZE_MAX))
    leaf_hash = fields.String(
        validate=validate.Length(max=64), metadata={"description": "The leaf hash, base64."}
    )
    tree_size = fields.Integer(validate=validate.Range(min=1, max=SIZE_MAX))

    @validates_schema
    def one_leaf(self, data: dict, **_: object) -> None:
        if ("leaf_index" in data) == ("leaf_hash" in data):
            raise ValidationError("Name the leaf by leaf_index or by leaf_hash.", "leaf_index")
        if "leaf_hash" in data:
            try:
                raw = base64.b64decode(data["leaf_hash"], validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValidationError("A SHA-256 hash in base64.", "leaf_hash")
            data["leaf_hash_bytes"] = raw


class InclusionSchema(Schema):
    leaf_index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    leaf_data = fields.String()
    inclusion_path = fields.List(fields.String())
    root_hash = fields.String()
    checkpoint = fields.String(allow_none=True)


class ConsistencyQuerySchema(Schema):
    first = fields.Integer(required=True, validate=validate.Range(min=0, max=SIZE_MAX))
    second = fields.Integer(validate=validate.Range(min=0, max=SIZE_MAX))


class ConsistencySchema(Schema):
    first = fields.Integer()
    second = fields.Integer()
    first_root_hash = fields.String()
    second_root_hash = fields.String()
    consistency_path = fields.List(fields.String())
    first_checkpoint = fields.String(allow_none=True)
    second_checkpoint = fields.String(allow_none=True)


@blp.route("/checkpoint")
class Checkpoint(MethodView):
    @blp.response(200, CheckpointSchema)
    def get(self):
        """The published checkpoint, its cosignatures and the witnesses' states (public)."""
        session = get_session()
        config = current_app.config
        published = published_checkpoint(session, quorum=config["TLOG_WITNESS_QUORUM"])
        if published is None:
            raise NotFound()
        states = witness_states(session)
        return {
            "origin": config["TLOG_ORIGIN"],
            "tree_size": published["size"],
            "root_hash": base64.b64encode(published["root_hash"]).decode(),
            "signed_at": published["created_at"],
            "note": published["note"],
            "witnessed": published["witnessed"],
            "cosignatures": published["cosignatures"],
            "witnesses": [
                {
                    "name": witness.name,
                    "cosigned_size": states[witness.name].size if witness.name in states else 0,
                    "refusal": states[witness.name].refusal if witness.name in states else None,
                }
                for witness in config["TLOG_WITNESS_LIST"]
            ],
            "verifier_key": log_signer().verifier_key,
        }


@blp.route("/proofs/inclusion")
class Inclusion(MethodView):
    @blp.arguments(InclusionQuerySchema, location="query")
    @blp.response(200, InclusionSchema)
    def get(self, query: dict):
        """A leaf's inclusion proof, by index or by hash, in a signed tree (public).

        ``tree_size`` defaults to the newest signed size."""
        return proofs.proof_inclusion(
            get_session(),
            leaf_index=query.get("leaf_index"),
            leaf_hash=query.get("leaf_hash_bytes"),
            tree_size=query.get("tree_size"),
        )


@blp.route("/proofs/consistency")
class Consistency(MethodView):
    @blp.arguments(ConsistencyQuerySchema, location="query")
    @blp.response(200, ConsistencySchema)
    def get(self, query: dict):
        """The consistency proof between two signed tree sizes (public; RFC 9162 §2.1.4)."""
        return proofs.proof_consistency(
            get_session(), first=query["first"], second=query.get("second")
        )
