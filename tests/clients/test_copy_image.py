"""copy-image with the OpenStack clients against `imagefleet up --stores fast=...,cold=...`
(fast the default): `glance image-import --import-method copy-image --stores cold`
and openstacksdk's `import_image(method="copy-image", stores=[...])` copy an uploaded
image to the second store; the image then shows both stores, with nothing importing
or failed, and its data downloads unchanged; `glance stores-delete` then removes one
of the two copies.

Usage: test_copy_image.py <gateway URL>; exits non-zero on the first failing check.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import openstack

# Importing test_clients takes the gateway URL from the command line.
from test_clients import GLANCE, URL, field, glance, upload

DEADLINE = 60

# The admin's token in the token file the test runner gives `imagefleet up`:
# copy-image is admin-only (Glance's `copy_image` policy).
ADMIN_TOKEN = "admin-token"


def glance_as_admin(*args):
    """Runs the glance CLI with the admin's token; returns its output."""
    result = subprocess.run(
        [GLANCE, "--os-image-url", URL, "--os-auth-token", ADMIN_TOKEN, *args],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.close(0),
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"glance {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def until(what, check):
    """Polls `check` until it returns a true value (returned) or the deadline passes."""
    end = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.2)


class GlanceCopyImage(unittest.TestCase):
    def test_glance_image_import_copies_to_another_store(self):
        name = f"copy-{uuid.uuid4().hex[:8]}"
        created = glance("image-create", "--name", name, "--disk-format", "raw", "--container-format", "bare").stdout
        image_id = field(created, "id")
        data = os.urandom(300_000)
        upload(image_id, data)
        self.assertEqual(field(glance("image-show", image_id).stdout, "stores"), "fast")

        glance_as_admin("image-import", "--import-method", "copy-image", "--stores", "cold", image_id)

        def copied():
            shown = glance("image-show", image_id).stdout
            return shown if field(shown, "stores") == "fast,cold" else None

        shown = until("the image shows both stores", copied)
        self.assertEqual(field(shown, "status"), "active")
        self.assertEqual(field(shown, "os_glance_importing_to_stores"), "")
        self.assertEqual(field(shown, "os_glance_failed_import"), "")
        path = os.path.join(tempfile.mkdtemp(prefix="imagefleet-client-"), "copy.img")
        glance("image-download", "--file", path, image_id)
        with open(path, "rb") as f:
            self.assertEqual(hashlib.sha512(f.read()).hexdigest(), hashlib.sha512(data).hexdigest())
        os.remove(path)

        # One of the two copies goes (`glance stores-delete`, admin-only as in Glance);
        # the image keeps the other and still downloads whole.
        glance_as_admin("stores-delete", "--store", "cold", image_id)
        self.assertEqual(field(glance("image-show", image_id).stdout, "stores"), "fast")
        glance("image-download", "--file", path, image_id)
        with open(path, "rb") as f:
            self.assertEqual(hashlib.sha512(f.read()).hexdigest(), hashlib.sha512(data).hexdigest())
        os.remove(path)


class SdkCopyImage(unittest.TestCase):
    def setUp(self):
        # An admin's connection: a token sent as X-Auth-Token to the given endpoint.
        self.conn = openstack.connection.Connection(
            auth_type="admin_token",
            auth={"endpoint": URL, "token": ADMIN_TOKEN},
            image_endpoint_override=URL,
            image_api_version="2",
        )

    def shown(self, image_id):
        return self.conn.image.get(f"/images/{image_id}").json()

    def test_openstacksdk_import_image_copies_to_the_named_stores(self):
        image = self.conn.image.create_image(
            name=f"sdk-copy-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare"
        )
        data = os.urandom(200_000)
        upload(image.id, data)
        self.assertEqual(self.shown(image.id)["stores"], "fast")

        self.conn.image.import_image(image, method="copy-image", stores=["cold"])

        def copied():
            shown = self.shown(image.id)
            return shown if shown.get("stores") == "fast,cold" else None

        shown = until("the image shows both stores", copied)
        self.assertEqual(shown["status"], "active")
        self.assertEqual(shown["os_glance_importing_to_stores"], "")
        self.assertEqual(shown["os_glance_failed_import"], "")
        body = self.conn.image.download_image(image).content
        self.assertEqual(hashlib.sha512(body).hexdigest(), hashlib.sha512(data).hexdigest())


if __name__ == "__main__":
    outcome = unittest.main(verbosity=2, exit=False).result
    failed = len(outcome.failures) + len(outcome.errors)
    print(f"copy-image clients: {outcome.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
