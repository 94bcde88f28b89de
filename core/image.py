"""The local busybox image: no registry is reachable, so it is imported from the host's static busybox."""

from __future__ import annotations

import io
import os
import tarfile

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, UsageError

BUSYBOX_IMAGE = "netcon/busybox:latest"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# Applets the lab, the tests and a user's shell inside the container need; all point at one binary.
APPLETS = (
    "sh",
    "ash",
    "ls",
    "cat",
    "echo",
    "sleep",
    "ping",
    "ip",
    "ifconfig",
    "httpd",
    "nc",
    "nslookup",
    "hostname",
    "ps",
    "top",
    "wget",
    "route",
    "netstat",
    "mkdir",
    "true",
    "false",
    "env",
    "id",
    "date",
)


def find_static_busybox() -> str:
    for path in BUSYBOX_CANDIDATES:
        real = os.path.realpath(path)
        if os.path.isfile(real) and _is_static(real):
            return real
    raise NetconError("No static busybox found (install Debian's busybox-static).")


def _is_static(path: str) -> bool:
    """True when the ELF has no PT_INTERP header, i.e. it runs without the host's libc."""
    with open(path, "rb") as f:
        head = f.read(4096)
    return b"/lib64/ld-linux" not in head and b"/lib/ld-" not in head


def rootfs_tar(busybox: str) -> bytes:
    """A minimal root filesystem: /bin/busybox with its applet links, /etc, /tmp, /var/www."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "var", "var/www", "root"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\n"),
            ("var/www/index.html", "netcon busybox httpd\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def has_image(ctx: HostContext, image: str = BUSYBOX_IMAGE) -> bool:
    return any(image in (img.get("RepoTags") or ()) for img in docker_call(ctx, "list images", lambda a: a.images()))


def ensure_busybox(ctx: HostContext, image: str = BUSYBOX_IMAGE) -> bool:
    """Import the busybox image into ``ctx``'s engine unless it is there; True when it was imported."""
    if ":" not in image.rsplit("/", 1)[-1]:
        raise UsageError(f"Image name {image!r} needs a tag (e.g. {image}:latest).")
    if has_image(ctx, image):
        return False
    import_busybox(ctx, image)
    return True


@mutation("image.import", "import image {image}")
def import_busybox(ctx: HostContext, image: str = BUSYBOX_IMAGE) -> None:
    data = rootfs_tar(find_static_busybox())
    repo, tag = image.rsplit(":", 1)
    docker_call(
        ctx,
        f"import image {image}",
        lambda a: a.import_image_from_data(data, repository=repo, tag=tag, changes=['CMD ["sh"]']),
    )
    if not has_image(ctx, image):
        raise NetconError(f"Docker accepted the import of {image} but does not list it.")
