"""``netcon image ensure-busybox``: make the local busybox image the tests, lab and ``container run`` use."""

from __future__ import annotations

from netcon.core.image import BUSYBOX_IMAGE, ensure_busybox


def register(sub, common) -> None:
    image = sub.add_parser("image", parents=[common], help="local images").add_subparsers(
        dest="image_command", metavar="ACTION", required=True
    )
    ensure = image.add_parser(
        "ensure-busybox", parents=[common], help="import the static busybox as an image unless present"
    )
    ensure.add_argument("--image", default=BUSYBOX_IMAGE, help=f"image name (default {BUSYBOX_IMAGE})")
    ensure.set_defaults(func=run_ensure)


def run_ensure(args, ctx) -> int:
    imported = ensure_busybox(ctx, args.image)
    print(f"{args.image}: {'imported' if imported else 'already present'}")
    return 0
