"""Schemathesis hooks for scripts/schemathesis (loaded with SCHEMATHESIS_HOOKS).

PATCH /v2/images/{id} takes Glance's JSON patch media type,
application/openstack-images-v2.1-json-patch, which schemathesis cannot serialise by
itself: without this it skips the operation's generated bodies. The body is JSON.
"""

import json

import schemathesis


@schemathesis.serializer("application/openstack-images-v2.1-json-patch")
def json_patch(ctx, value):
    # Bytes as-is (already a body); anything else is the JSON the schema describes.
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode("utf-8")
