"""Existing OpenStack clients against `imagefleet up`: python-glanceclient's `glance`
command and openstacksdk, used as an operator would, with no Keystone (the gateway's
development identity answers for requests without identity headers).

Usage: test_clients.py <gateway URL>; exits non-zero on the first failing check.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import sys
import unittest
import uuid

import openstack

URL = sys.argv.pop(1) if len(sys.argv) > 1 else "http://127.0.0.1:9292"
GLANCE = os.path.join(os.path.dirname(sys.executable), "glance")


def glance(*args, check=True):
    """Runs the glance CLI without Keystone; returns its output."""
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




def upload(image_id, data):
    """Uploads `data` with `glance image-upload`; returns the file it came from."""
    path = os.path.join(tempfile.mkdtemp(prefix="imagefleet-client-"), "disk.img")
    with open(path, "wb") as f:
        f.write(data)
    glance("image-upload", "--file", path, image_id)
    return path


def field(output, name):
    """A value from glance's `| Property | Value |` table."""
    match = re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*(.*?)\s*\|$", output, re.MULTILINE)
    if not match:
        raise AssertionError(f"no {name} in:\n{output}")
    return match.group(1)


class GlanceClient(unittest.TestCase):
    def test_image_lifecycle_with_the_glance_command(self):
        name = f"cirros-{uuid.uuid4().hex[:8]}"
        created = glance("image-create", "--name", name, "--disk-format", "raw", "--container-format", "bare").stdout
        image_id = field(created, "id")
        self.assertEqual(field(created, "status"), "queued")

        listed = glance("image-list", "--property-filter", f"name={name}").stdout
        self.assertIn(image_id, listed)
        self.assertIn(image_id, glance("image-list", "--sort-key", "name", "--sort-dir", "asc").stdout)

        shown = glance("image-show", image_id).stdout
        self.assertEqual(field(shown, "name"), name)

        updated = glance("image-update", image_id, "--property", "os_distro=cirros", "--min-ram", "64").stdout
        self.assertEqual(field(updated, "os_distro"), "cirros")
        self.assertEqual(field(updated, "min_ram"), "64")

        glance("image-tag-update", image_id, "small")
        self.assertIn("small", field(glance("image-show", image_id).stdout, "tags"))
        glance("image-tag-delete", image_id, "small")

        member = glance("member-create", image_id, "other-project").stdout
        self.assertIn("other-project", member)
        self.assertIn("other-project", glance("member-list", "--image-id", image_id).stdout)
        glance("member-delete", image_id, "other-project")

        # Deactivating a queued image is refused (403), as Glance does.
        refused = glance("image-deactivate", image_id, check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("403", refused.stdout + refused.stderr)
        data = os.urandom(300_000)
        path = upload(image_id, data)
        shown = glance("image-show", image_id).stdout
        self.assertEqual(field(shown, "status"), "active")
        self.assertEqual(field(shown, "checksum"), hashlib.md5(data).hexdigest())
        # image-download checks the body against Content-MD5 itself.
        downloaded = path + ".down"
        glance("image-download", "--file", downloaded, image_id)
        with open(downloaded, "rb") as f:
            self.assertEqual(f.read(), data)
        glance("image-deactivate", image_id)
        self.assertEqual(field(glance("image-show", image_id).stdout, "status"), "deactivated")
        glance("image-reactivate", image_id)
        self.assertEqual(field(glance("image-show", image_id).stdout, "status"), "active")

        # image-tasks needs v2.12 among the versions: listed here, not by Glance. The
        # image was never imported, so its table is empty.
        tasks = glance("image-tasks", image_id).stdout
        self.assertIn("| Message | Status | Updated at |", tasks)
        self.assertEqual(tasks.count("\n"), 4, tasks)
        glance("image-delete", image_id)
        gone = glance("image-show", image_id, check=False)
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn("404", gone.stdout + gone.stderr)

    def test_stage_and_glance_direct_import_with_the_glance_command(self):
        created = glance("image-create", "--name", "staged", "--disk-format", "raw", "--container-format", "bare").stdout
        image_id = field(created, "id")
        data = os.urandom(200_000)
        path = os.path.join(tempfile.mkdtemp(prefix="imagefleet-client-"), "disk.img")
        with open(path, "wb") as f:
            f.write(data)
        glance("image-stage", "--file", path, image_id)
        self.assertEqual(field(glance("image-show", image_id).stdout, "status"), "uploading")
        glance("image-import", "--import-method", "glance-direct", image_id)
        deadline = time.monotonic() + 60
        while field(glance("image-show", image_id).stdout, "status") != "active":
            self.assertLess(time.monotonic(), deadline, "the import did not finish")
            time.sleep(0.2)
        self.assertEqual(field(glance("image-show", image_id).stdout, "checksum"), hashlib.md5(data).hexdigest())
        self.assertIn("success", glance("image-tasks", image_id).stdout)

    def test_task_list_answers(self):
        # The development identity is a member: the tasks API is admin-only (403),
        # which glance reports as an error, not a crash.
        result = glance("task-list", check=False)
        self.assertIn("403", result.stdout + result.stderr)


class OpenStackSdk(unittest.TestCase):
    def setUp(self):
        self.conn = openstack.connection.Connection(
            auth_type="none",
            auth={"endpoint": URL},
            image_endpoint_override=URL,
            image_api_version="2",
        )

    def test_create_list_update_delete(self):
        name = f"sdk-{uuid.uuid4().hex[:8]}"
        image = self.conn.image.create_image(name=name, disk_format="raw", container_format="bare", tags=["sdk"])
        self.assertEqual(image.status, "queued")
        names = [i.name for i in self.conn.image.images(tag="sdk")]
        self.assertIn(name, names)
        fetched = self.conn.image.get_image(image.id)
        self.assertEqual(fetched.name, name)
        updated = self.conn.image.update_image(image, min_disk=2)
        self.assertEqual(updated.min_disk, 2)
        self.conn.image.delete_image(image, ignore_missing=False)
        self.assertIsNone(self.conn.image.find_image(image.id))


if __name__ == "__main__":
    outcome = unittest.main(verbosity=2, exit=False).result
    failed = len(outcome.failures) + len(outcome.errors)
    print(f"clients: {outcome.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
