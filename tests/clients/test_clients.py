"""Existing OpenStack clients against `imagefleet up`: python-glanceclient's `glance`
command and openstacksdk, used as an operator would, with no Keystone (the gateway's
development identity answers for requests without identity headers).

Usage: test_clients.py <gateway URL>; exits non-zero on the first failing check.
"""

import json
import os
import re
import subprocess
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


IMAGEFLEET = os.environ.get("IMAGEFLEET_BIN", "target/debug/imagefleet")


def activate(image_id):
    """Gives a queued image data the way the service itself records an upload, through
    the bus with `imagefleet publish` (the HTTP data path is not what these tests are
    about)."""
    lease = "2999-01-01T00:00:00Z"
    digest = {"size": 0, "checksum": "d41d8cd98f00b204e9800998ecf8427e", "os_hash_algo": "sha512",
              "os_hash_value": "0" * 128, "virtual_size": None}
    steps = [
        ("admin,member,reader", {"type": "begin_upload", "payload": {"image_id": image_id, "lease_expires_at": lease}}),
        ("service", {"type": "complete_upload", "payload": {"image_id": image_id, "digest": digest}}),
    ]
    for roles, command in steps:
        result = subprocess.run(
            [IMAGEFLEET, "publish", "--wait", "--project", "imagefleet", "--user", "imagefleet", "--roles", roles],
            input=json.dumps(command), capture_output=True, text=True, timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"publish {command['type']} failed: {result.stdout}{result.stderr}")


def field(output, name):
    """A value from glance's `| Property | Value |` table."""
    match = re.search(rf"^\|\s*{re.escape(name)}\s*\|\s*(.*?)\s*\|$", output, re.MULTILINE)
    if not match:
        raise AssertionError(f"no {name} in:\n{output}")
    return match.group(1)


class GlanceClient(unittest.TestCase):
    def test_image_lifecycle_with_the_glance_command(self):
        name = f"cirros-{uuid.uuid4().hex[:8]}"
        created = glance("image-create", "--name", name, "--disk-format", "qcow2", "--container-format", "bare").stdout
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
        activate(image_id)
        self.assertEqual(field(glance("image-show", image_id).stdout, "status"), "active")
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
