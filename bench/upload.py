"""What an image upload costs: a 12-megapixel JPEG checked, cleaned and turned into renditions.

Usage (from the project root, any settings; nothing is written to the database):

    .venv/bin/python bench/upload.py               # 4000 x 3000, 7 rounds
    ROUNDS=3 WIDTH=6000 HEIGHT=4000 .venv/bin/python bench/upload.py

Each round times, in this process: decoding with every check (`open_checked`), the whole
preparation (`prepare`: checks, EXIF gone, the cleaned original re-encoded, five WebP
renditions) and writing the files through the storage API (a FileSystemStorage in a temporary
folder). It prints the median, the fastest and the slowest round of each, the output sizes,
the process' peak memory, and the CPU the rest of the machine used meanwhile (a busy machine
makes these figures worse, not better).
"""

import io
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from bench.support import machine_busy_seconds  # noqa: E402
from blog import imaging  # noqa: E402

WIDTH = int(os.environ.get("WIDTH", 4000))
HEIGHT = int(os.environ.get("HEIGHT", 3000))
ROUNDS = int(os.environ.get("ROUNDS", 7))


def photo_like_jpeg(width: int, height: int) -> bytes:
    """A JPEG that compresses like a photo: gradients, shapes and sensor-like noise, with
    EXIF (camera and GPS) as a phone writes it."""
    base = Image.linear_gradient("L").resize((width, height))
    red = base
    green = base.rotate(90).resize((width, height))
    blue = Image.radial_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(picture)
    for i in range(60):
        x, y = (i * 977) % width, (i * 613) % height
        draw.ellipse((x, y, x + width // 9, y + height // 7), fill=(i * 4 % 255, 90, 200 - i))
    noise = Image.effect_noise((width, height), 18).filter(ImageFilter.GaussianBlur(0.6))
    picture = Image.blend(picture, Image.merge("RGB", (noise, noise, noise)), 0.18)
    exif = Image.Exif()
    exif[0x0110] = "Phone 12"
    exif[0x8825] = {1: "N", 2: (28.0, 36.0, 50.0), 3: "E", 4: (77.0, 12.0, 30.0)}
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return (
        f"{label:<28} median {statistics.median(ms):7.0f} ms   "
        f"fastest {ms[0]:7.0f} ms   slowest {ms[-1]:7.0f} ms"
    )


def main():
    data = photo_like_jpeg(WIDTH, HEIGHT)
    print(
        f"input: {WIDTH}x{HEIGHT} JPEG ({WIDTH * HEIGHT / 1e6:.1f} MP), "
        f"{len(data) / 1e6:.2f} MB, with EXIF GPS; {ROUNDS} rounds; CPUs: {os.cpu_count()}"
    )
    checks, prepares, writes = [], [], []
    machine_before, own_before, wall_before = machine_busy_seconds(), own_cpu(), time.monotonic()
    prepared = None
    with tempfile.TemporaryDirectory() as folder:
        storage = FileSystemStorage(location=folder)
        for round_number in range(ROUNDS):
            started = time.perf_counter()
            imaging.open_checked(data)
            checks.append(time.perf_counter() - started)

            started = time.perf_counter()
            prepared = imaging.prepare(data)
            prepares.append(time.perf_counter() - started)

            started = time.perf_counter()
            prefix = f"images/round{round_number}"
            storage.save(f"{prefix}/original.jpg", ContentFile(prepared.data))
            for rendition in prepared.renditions:
                storage.save(f"{prefix}/w{rendition.width}.webp", ContentFile(rendition.data))
            writes.append(time.perf_counter() - started)
    wall = time.monotonic() - wall_before
    others = max(0.0, (machine_busy_seconds() - machine_before) - (own_cpu() - own_before))

    print(summary("decode + checks", checks))
    print(summary("prepare (whole upload work)", prepares))
    print(summary("write 6 files (filesystem)", writes))
    print(
        f"output: original {len(prepared.data) / 1e6:.2f} MB (re-encoded, no EXIF); renditions "
        + ", ".join(f"{r.width}w {len(r.data) / 1e3:.0f} kB" for r in prepared.renditions)
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")
    print(
        f"CPU used by the rest of the machine meanwhile: {others:.1f} s over {wall:.1f} s "
        f"({100 * others / wall / (os.cpu_count() or 1):.0f} % of its capacity)"
    )


if __name__ == "__main__":
    main()
