"""OpenStack clients against `imagefleet up --stores fast=...,cold=...` (multi-store
mode, Glance's `enabled_backends`): glanceclient's `stores-info`, `image-upload
--store` and `stores-delete`, and openstacksdk's stores API. The `glance` command acts
as the development identity (a member); the sdk also acts as an admin through the admin
token of the token file the test runner gives `imagefleet up`.

Usage: test_stores.py <gateway URL>; exits non-zero on the first failing check.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest
import uuid

import openstack

URL = sys.argv.pop(1) if len(sys.argv) > 1 else "http://127.0.0.1:9292"
GLANCE = os.path.join(os.path.dirname(sys.executable), "glance")
ADMIN_TOKEN = "admin-token"


def glance(*args, check=True):
    """Runs the glance CLI without Keystone; returns its result."""
    # With stdin closed (not merely empty) glance does not take it for image data.
    result = subprocess.run(
        [GLANCE, "--os-image-url", URL, "--os-auth-token", "unused", *args],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.close(0),
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"glance {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def field(output, name):
    """A value from glance's `| Property | Value |` table."""
    match = re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*(.*?)\s*\|$", output, re.MULTILINE)
    if not match:
        raise AssertionError(f"no {name} in:\n{output}")
    return match.group(1)


def upload_to(store):
    """A new image whose data `glance image-upload --store` put in `store`; its id."""
    created = glance("image-create", "--name", f"stored-{uuid.uuid4().hex[:8]}",
                     "--disk-format", "raw", "--container-format", "bare").stdout
    image_id = field(created, "id")
    path = os.path.join(tempfile.mkdtemp(prefix="imagefleet-client-"), "disk.img")
    with open(path, "wb") as f:
        f.write(os.urandom(100_000))
    glance("image-upload", "--store", store, "--file", path, image_id)
    return image_id


class GlanceStores(unittest.TestCase):
    def test_stores_info_lists_both_stores(self):
        listed = glance("stores-info").stdout
        self.assertIn('"id": "fast"', listed)
        self.assertIn('"id": "cold"', listed)
        self.assertIn('"default": "true"', listed)
        # The details are admin-only (Glance's stores_info_detail policy).
        detail = glance("stores-info", "--detail", check=False)
        self.assertNotEqual(detail.returncode, 0)
        self.assertIn("403", detail.stdout + detail.stderr)

    def test_image_upload_to_a_named_store(self):
        image_id = upload_to("cold")
        shown = glance("image-show", image_id).stdout
        self.assertEqual(field(shown, "status"), "active")
        self.assertEqual(field(shown, "stores"), "cold")
        # glance checks the store against stores-info before it uploads anything.
        refused = glance("image-upload", "--store", "warm", "--file", os.devnull, image_id, check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("warm", refused.stdout + refused.stderr)

    def test_stores_delete_is_refused_for_the_only_store(self):
        image_id = upload_to("fast")
        refused = glance("stores-delete", "--store", "fast", image_id, check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("403", refused.stdout + refused.stderr)
        self.assertEqual(field(glance("image-show", image_id).stdout, "stores"), "fast")


class SdkStores(unittest.TestCase):
    def connect(self, admin=False):
        if admin:
            auth = {"auth_type": "admin_token", "auth": {"endpoint": URL, "token": ADMIN_TOKEN}}
        else:
            auth = {"auth_type": "none", "auth": {"endpoint": URL}}
        return openstack.connection.Connection(
            image_endpoint_override=URL,
            image_api_version="2",
            **auth,
        )

    def test_stores_and_their_details(self):
        stores = list(self.connect().image.stores())
        self.assertEqual([s.id for s in stores], ["fast", "cold"])
        self.assertTrue(stores[0].is_default)
        self.assertFalse(stores[1].is_default)
        with self.assertRaises(openstack.exceptions.ForbiddenException):
            list(self.connect().image.stores(details=True))
        detailed = list(self.connect(admin=True).image.stores(details=True))
        self.assertEqual([s.id for s in detailed], ["fast", "cold"])
        for store in detailed:
            self.assertTrue(store.properties["data_dir"].endswith("/" + store.id), store.properties)
            self.assertFalse(store.properties["thin_provisioning"])

    def test_an_admin_cannot_delete_the_only_copy(self):
        image_id = upload_to("cold")
        admin = self.connect(admin=True)
        cold = [s for s in admin.image.stores() if s.id == "cold"][0]
        with self.assertRaises(openstack.exceptions.ForbiddenException) as refused:
            cold.delete_image(admin.image, image_id)
        self.assertIn("only store", refused.exception.response.text)


if __name__ == "__main__":
    outcome = unittest.main(verbosity=2, exit=False).result
    failed = len(outcome.failures) + len(outcome.errors)
    print(f"stores: {outcome.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
